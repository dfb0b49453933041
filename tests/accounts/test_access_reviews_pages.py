"""Every organization settings page renders for an Owner, with its rows."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import AccessReviewItem, ApprovalRequest
from accounts.services import (
    access_review_campaign_start,
    invitation_send,
    membership_role_change,
)
from tests.accounts.access_helpers import builtin, member, organization

pytestmark = pytest.mark.django_db


def test_settings_pages_render_with_their_rows() -> None:
    org = organization(name="Acme Health")
    owner = member(org, "owner").user
    approver = member(org, "owner").user
    target = member(org)
    invitation_send(
        organization=org, email="pending@example.test", role=builtin("member"), invited_by=owner
    )
    membership_role_change(membership=target, role=builtin("admin"), actor=owner)
    campaign, _ = access_review_campaign_start(organization=org, started_by=owner)

    client = Client()
    client.force_login(approver)
    pages = {
        "/orgs/": "Acme Health",
        f"/orgs/{org.slug}/": "Active members",
        f"/orgs/{org.slug}/roles": "inherited from Admin",
        f"/orgs/{org.slug}/invitations": "pending@example.test",
        f"/orgs/{org.slug}/approvals": f"Make {target.user.email} Admin",
        f"/orgs/{org.slug}/reviews": campaign.name,
        f"/orgs/{org.slug}/reviews/{campaign.public_id}": target.user.email,
    }
    for path, text in pages.items():
        response = client.get(path)
        assert response.status_code == 200, path
        assert text in response.content.decode(), path

    # The approver (not the requester) sees the decision buttons and approves.
    page = client.get(f"/orgs/{org.slug}/approvals").content.decode()
    assert 'value="approve"' in page
    approval = ApprovalRequest.objects.get(organization=org)
    approval_path = f"/orgs/{org.slug}/approvals/{approval.public_id}/decide"
    assert approval_path in page
    response = client.post(approval_path, {"decision": "approve"}, follow=True)
    assert "Approved." in response.content.decode()
    target.refresh_from_db()
    assert target.role == builtin("admin")

    # Decide a review item from the page.
    item = campaign.items.get(membership=target)
    response = client.post(
        f"/orgs/{org.slug}/reviews/{campaign.public_id}/items/{item.public_id}",
        {"decision": "keep", "note": "fine"},
        follow=True,
    )
    assert "Decision recorded." in response.content.decode()
    assert AccessReviewItem.objects.get(pk=item.pk).decision == "keep"
