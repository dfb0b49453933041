"""Four-eyes approval of privileged role grants, and the executor registry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.authorization import user_has_perm
from accounts.models import ApprovalRequest, Role
from accounts.services import (
    approval_approve,
    approval_executor_register,
    approval_refuse,
    approval_request_create,
    membership_role_change,
)
from audit.models import SecurityEvent
from cloudexpress.api.exceptions import ServiceError
from tests.accounts.access_helpers import builtin, fresh, member, organization

pytestmark = pytest.mark.django_db


def _request_admin_grant():
    org = organization()
    requester = member(org, "owner").user
    approver = member(org, "owner").user
    target = member(org)
    approval = membership_role_change(membership=target, role=builtin("admin"), actor=requester)
    assert isinstance(approval, ApprovalRequest)
    return org, requester, approver, target, approval


def test_second_person_approves_and_the_role_is_granted() -> None:
    org, requester, approver, target, approval = _request_admin_grant()
    assert not user_has_perm(fresh(target.user), "members.invite", org)

    approval = approval_approve(approval=approval, decided_by=approver)

    assert approval.status == ApprovalRequest.Status.EXECUTED
    assert approval.decided_by == approver
    target.refresh_from_db()
    assert target.role.kind == Role.Kind.ADMIN
    assert user_has_perm(fresh(target.user), "members.invite", org)
    types = list(
        SecurityEvent.objects.filter(detail__approval=str(approval.public_id))
        .order_by("seq")
        .values_list("event_type", "actor_id")
    )
    assert types == [("approval.requested", requester.pk), ("approval.granted", approver.pk)]


def test_self_approval_is_refused() -> None:
    org, requester, approver, target, approval = _request_admin_grant()
    with pytest.raises(ServiceError) as refused:
        approval_approve(approval=approval, decided_by=requester)
    assert refused.value.get_codes() == "self_approval"
    approval.refresh_from_db()
    assert approval.status == ApprovalRequest.Status.PENDING
    target.refresh_from_db()
    assert target.role.kind == Role.Kind.MEMBER


def test_database_refuses_a_self_decided_request_too() -> None:
    org, requester, approver, target, approval = _request_admin_grant()
    with pytest.raises(IntegrityError), transaction.atomic():
        ApprovalRequest.objects.filter(pk=approval.pk).update(decided_by=requester)


def test_approver_needs_approvals_decide() -> None:
    org, requester, approver, target, approval = _request_admin_grant()
    plain = member(org).user
    with pytest.raises(ServiceError) as refused:
        approval_approve(approval=approval, decided_by=plain)
    assert refused.value.get_codes() == "approver_lacks_permission"


def test_refusal_leaves_the_role_unchanged_and_is_recorded() -> None:
    org, requester, approver, target, approval = _request_admin_grant()
    approval = approval_refuse(approval=approval, decided_by=approver, note="not needed")
    assert approval.status == ApprovalRequest.Status.REFUSED
    target.refresh_from_db()
    assert target.role.kind == Role.Kind.MEMBER
    assert SecurityEvent.objects.filter(
        event_type="approval.refused", actor=approver, detail__approval=str(approval.public_id)
    ).exists()
    with pytest.raises(ServiceError) as again:
        approval_approve(approval=approval, decided_by=approver)
    assert again.value.get_codes() == "approval_not_pending"


def test_auditor_grant_needs_an_expiry_and_approval() -> None:
    org = organization()
    requester = member(org, "owner").user
    approver = member(org, "owner").user
    target = member(org)
    with pytest.raises(ServiceError) as refused:
        membership_role_change(membership=target, role=builtin("auditor"), actor=requester)
    assert refused.value.get_codes() == "auditor_expiry_required"

    ends = timezone.now() + timedelta(days=30)
    approval = membership_role_change(
        membership=target, role=builtin("auditor"), actor=requester, expires_at=ends
    )
    approval_approve(approval=approval, decided_by=approver)
    target.refresh_from_db()
    assert target.role.kind == Role.Kind.AUDITOR
    assert target.expires_at == ends


def test_later_issues_plug_in_an_executor() -> None:
    org = organization()
    requester = member(org, "admin").user
    approver = member(org, "owner").user
    ran = []

    def run_retention(approval: ApprovalRequest) -> dict:
        ran.append(approval.payload["policy"])
        return {"deleted": 3}

    approval_executor_register(
        ApprovalRequest.Kind.RETENTION_RUN,
        execute=run_retention,
        request_permission="retention.execute",
    )
    approval = approval_request_create(
        organization=org,
        kind=ApprovalRequest.Kind.RETENTION_RUN,
        payload={"policy": "sessions"},
        requested_by=requester,
    )
    assert ran == []
    approval = approval_approve(approval=approval, decided_by=approver)
    assert ran == ["sessions"]
    assert approval.result == {"deleted": 3}

    plain = member(org).user
    with pytest.raises(ServiceError) as refused:
        approval_request_create(
            organization=org,
            kind=ApprovalRequest.Kind.RETENTION_RUN,
            payload={},
            requested_by=plain,
        )
    assert refused.value.get_codes() == "permission_denied"
