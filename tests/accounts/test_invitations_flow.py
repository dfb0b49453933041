"""Invitations: role no higher than the inviter's, single-use token stored
hashed, 7-day expiry, revocation, privileged roles approved first, each step
audited, e-mail through Django's mail API."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.authorization import user_has_perm
from accounts.models import ApprovalRequest, Invitation, Membership, User
from accounts.services import (
    approval_approve,
    invitation_accept,
    invitation_revoke,
    invitation_send,
)
from audit.models import SecurityEvent
from cloudexpress.api.exceptions import ServiceError
from tests.accounts.access_helpers import builtin, member, organization
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r"/invitations/([A-Za-z0-9_-]+)")


def token_from_outbox(index: int = -1) -> str:
    match = TOKEN.search(mail.outbox[index].body)
    assert match, mail.outbox[index].body
    return match.group(1)


def events(kind: str) -> int:
    return SecurityEvent.objects.filter(event_type=kind).count()


def test_invitation_is_mailed_accepted_once_and_audited() -> None:
    org = organization()
    admin = member(org, "admin").user
    invitee = UserFactory(email="new.person@example.test")

    invitation = invitation_send(
        organization=org, email="New.Person@Example.test", role=builtin("member"), invited_by=admin
    )
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new.person@example.test"]
    token = token_from_outbox()
    # Only a hash is stored: the token itself appears nowhere in the row.
    invitation.refresh_from_db()
    assert token not in (invitation.token_hash or "")
    assert len(invitation.token_hash) == 64
    assert invitation.expires_at - invitation.sent_at == timedelta(days=7)

    membership = invitation_accept(token=token, user=invitee)
    assert membership.organization == org
    assert membership.role == builtin("member")
    assert membership.invited_by == admin
    assert user_has_perm(User.objects.get(pk=invitee.pk), "org.view", org)

    with pytest.raises(ServiceError) as again:
        invitation_accept(token=token, user=invitee)
    assert again.value.get_codes() == "invitation_invalid"
    assert events("invitation.sent") == 1
    assert events("invitation.accepted") == 1


def test_invitation_expires_after_seven_days() -> None:
    org = organization()
    admin = member(org, "admin").user
    invitee = UserFactory(email="late@example.test")
    invitation_send(
        organization=org, email=invitee.email, role=builtin("member"), invited_by=admin
    )
    token = token_from_outbox()
    with time_machine.travel(timezone.now() + timedelta(days=7, seconds=1)):
        with pytest.raises(ServiceError) as expired:
            invitation_accept(token=token, user=invitee)
    assert expired.value.get_codes() == "invitation_expired"
    assert not Membership.objects.filter(user=invitee, organization=org).exists()


def test_revoked_invitation_cannot_be_accepted() -> None:
    org = organization()
    admin = member(org, "admin").user
    invitee = UserFactory(email="revoked@example.test")
    invitation = invitation_send(
        organization=org, email=invitee.email, role=builtin("member"), invited_by=admin
    )
    token = token_from_outbox()
    invitation_revoke(invitation=invitation, by=admin, reason="typo in role")
    with pytest.raises(ServiceError) as refused:
        invitation_accept(token=token, user=invitee)
    assert refused.value.get_codes() == "invitation_invalid"
    assert events("invitation.revoked") == 1


def test_invitation_with_a_role_higher_than_the_inviters_is_refused() -> None:
    org = organization()
    admin = member(org, "admin").user
    with pytest.raises(ServiceError) as refused:
        invitation_send(
            organization=org, email="boss@example.test", role=builtin("owner"), invited_by=admin
        )
    assert refused.value.get_codes() == "permission_not_held"
    assert not Invitation.objects.filter(organization=org).exists()
    assert mail.outbox == []


def test_member_without_members_invite_cannot_invite() -> None:
    org = organization()
    plain = member(org).user
    with pytest.raises(ServiceError) as refused:
        invitation_send(
            organization=org, email="x@example.test", role=builtin("member"), invited_by=plain
        )
    assert refused.value.get_codes() == "permission_denied"


def test_wrong_account_cannot_accept() -> None:
    org = organization()
    admin = member(org, "admin").user
    invitation_send(
        organization=org, email="right@example.test", role=builtin("member"), invited_by=admin
    )
    token = token_from_outbox()
    with pytest.raises(ServiceError) as refused:
        invitation_accept(token=token, user=UserFactory(email="wrong@example.test"))
    assert refused.value.get_codes() == "invitation_wrong_account"


def test_auditor_invitation_waits_for_approval_then_mails_and_expires_access() -> None:
    org = organization()
    owner = member(org, "owner").user
    approver = member(org, "owner").user
    ends = timezone.now() + timedelta(days=14)
    invitation = invitation_send(
        organization=org,
        email="auditor@audit-firm.test",
        role=builtin("auditor"),
        invited_by=owner,
        membership_expires_at=ends,
    )
    assert invitation.status == Invitation.Status.AWAITING_APPROVAL
    assert mail.outbox == []
    approval = ApprovalRequest.objects.get(kind=ApprovalRequest.Kind.INVITATION_SEND)
    approval_approve(approval=approval, decided_by=approver)
    assert len(mail.outbox) == 1

    auditor = UserFactory(email="auditor@audit-firm.test")
    membership = invitation_accept(token=token_from_outbox(), user=auditor)
    assert membership.expires_at == ends
    assert membership.role == builtin("auditor")


def test_newcomer_creates_an_account_on_the_invitation_page() -> None:
    org = organization()
    admin = member(org, "admin").user
    invitation_send(
        organization=org, email="fresh@example.test", role=builtin("member"), invited_by=admin
    )
    token = token_from_outbox()
    client = Client()
    page = client.get(f"/invitations/{token}")
    assert page.status_code == 200
    assert org.name in page.content.decode()

    response = client.post(
        f"/invitations/{token}",
        {"full_name": "Fresh Person", "password": "A-long-enough-passphrase-42"},
    )
    assert response.status_code == 302
    user = User.objects.get(email="fresh@example.test")
    assert Membership.objects.filter(user=user, organization=org).exists()
    assert client.get(f"/orgs/{org.slug}/members").status_code == 200
    assert client.get(f"/invitations/{token}").status_code == 404


def test_invitation_api_creates_lists_and_revokes() -> None:
    from rest_framework.test import APIClient

    org = organization()
    admin = member(org, "admin").user
    client = APIClient()
    client.force_authenticate(admin)
    created = client.post(
        f"/api/orgs/{org.slug}/invitations",
        {"email": "api@example.test", "role": str(builtin("member").public_id)},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["status"] == "pending"
    listed = client.get(f"/api/orgs/{org.slug}/invitations").json()
    assert [row["email"] for row in listed] == ["api@example.test"]
    revoked = client.post(f"/api/orgs/{org.slug}/invitations/{created.json()['id']}/revoke")
    assert revoked.json()["status"] == "revoked"

    too_high = client.post(
        f"/api/orgs/{org.slug}/invitations",
        {"email": "boss@example.test", "role": str(builtin("owner").public_id)},
        format="json",
    )
    assert too_high.status_code == 403
    assert too_high.json()["code"] == "permission_not_held"
