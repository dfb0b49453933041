"""The new access models are in the audit trail; the token hash is not."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType

from accounts.models import ApprovalRequest, Invitation
from accounts.services import invitation_send, membership_role_change
from audit.models import AuditLogEntry
from tests.accounts.access_helpers import builtin, member, organization

pytestmark = pytest.mark.django_db


def entries_for(model) -> list[AuditLogEntry]:
    return list(
        AuditLogEntry.objects.filter(content_type=ContentType.objects.get_for_model(model))
    )


def test_invitation_changes_are_audited_without_the_token_hash() -> None:
    org = organization()
    admin = member(org, "admin").user
    invitation = invitation_send(
        organization=org, email="trail@example.test", role=builtin("member"), invited_by=admin
    )
    invitation.refresh_from_db()
    assert invitation.token_hash
    entries = entries_for(Invitation)
    assert entries, "no audit entry for the invitation"
    for entry in entries:
        assert "token_hash" not in (entry.changes or {})
        assert invitation.token_hash not in str(entry.changes)


def test_approval_requests_are_audited() -> None:
    org = organization()
    owner = member(org, "owner").user
    membership_role_change(membership=member(org), role=builtin("admin"), actor=owner)
    assert entries_for(ApprovalRequest)
