"""Invitations, approvals, roles and review items: a fixed number of queries
whatever the number of rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import (
    AccessReviewCampaign,
    AccessReviewItem,
    ApprovalRequest,
    Invitation,
    Membership,
    Role,
    User,
)
from accounts.services import access_review_campaign_start
from tests.accounts.access_helpers import builtin, member, organization

pytestmark = pytest.mark.django_db


def fill(org, owner, approver, count: int) -> AccessReviewCampaign:
    users = User.objects.bulk_create(
        User(email=f"{org.slug}-{n}@example.test", password="!") for n in range(count)
    )
    Membership.objects.bulk_create(
        Membership(user=u, organization=org, role=builtin("member"), invited_by=owner)
        for u in users
    )
    Invitation.objects.bulk_create(
        Invitation(
            organization=org,
            email=f"invitee-{n}@example.test",
            role=builtin("member"),
            invited_by=owner,
            accepted_by=users[n],
            status=Invitation.Status.ACCEPTED,
        )
        for n in range(count)
    )
    ApprovalRequest.objects.bulk_create(
        ApprovalRequest(
            organization=org,
            kind=ApprovalRequest.Kind.ROLE_GRANT,
            requested_by=owner,
            decided_by=approver,
            status=ApprovalRequest.Status.REFUSED,
        )
        for _ in range(count)
    )
    Role.objects.bulk_create(Role(organization=org, name=f"Custom {n}") for n in range(count))
    campaign, _ = access_review_campaign_start(organization=org)
    AccessReviewItem.objects.filter(campaign=campaign).update(
        decision=AccessReviewItem.Decision.KEEP, decided_by=approver
    )
    return campaign


def counts(client: Client, org, campaign) -> dict[str, int]:
    result = {}
    for name, path in {
        "invitations": f"/orgs/{org.slug}/invitations",
        "approvals": f"/orgs/{org.slug}/approvals",
        "roles": f"/orgs/{org.slug}/roles",
        "reviews": f"/orgs/{org.slug}/reviews",
        "review": f"/orgs/{org.slug}/reviews/{campaign.public_id}",
    }.items():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(path).status_code == 200
        result[name] = len(queries)
    return result


def test_list_pages_query_counts_do_not_grow_with_rows() -> None:
    small, large = organization(), organization()
    owner = member(small, "owner").user
    approver = member(small, "owner").user
    member(large, "owner", user=owner)
    member(large, "owner", user=approver)
    small_campaign = fill(small, owner, approver, 3)
    large_campaign = fill(large, owner, approver, 40)

    client = Client()
    client.force_login(owner)
    counts(client, small, small_campaign)  # warm caches
    assert counts(client, small, small_campaign) == counts(client, large, large_campaign)
