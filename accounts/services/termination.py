"""Offboarding: terminate a user everywhere, or remove them from one
organization. Access ends on the next request; data is kept."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts import authorization, termination
from accounts.models import (
    ApprovalRequest,
    Invitation,
    Membership,
    Organization,
    Role,
    User,
    UserSession,
)
from accounts.services import approvals
from accounts.services.memberships import owner_guard
from cloudexpress.api.exceptions import ServiceError

logger = logging.getLogger(__name__)


def sessions_revoke(user: User) -> int:
    """Delete every session row of the user: each cookie fails next time."""
    deleted, _ = UserSession.objects.filter(user=user).delete()
    return deleted


def _reason_check(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(
            "Say why: the reason is kept with the record.",
            code="reason_required",
            status_code=400,
        )
    return reason


def _invitations_cancel(user: User, organization: Organization | None, reason: str) -> int:
    """Revoke the pending invitations the user sent, and withdraw the
    approvals they asked for."""
    now = timezone.now()
    open_statuses = [Invitation.Status.PENDING, Invitation.Status.AWAITING_APPROVAL]
    invitations = Invitation.objects.filter(invited_by=user, status__in=open_statuses)
    requests = ApprovalRequest.objects.filter(
        requested_by=user, status=ApprovalRequest.Status.PENDING
    )
    if organization is not None:
        invitations = invitations.filter(organization=organization)
        requests = requests.filter(organization=organization)
    for request in requests:
        approvals.approval_cancel(approval=request, reason=reason)
    return invitations.update(
        status=Invitation.Status.REVOKED,
        revoked_at=now,
        revoked_reason=reason[:255],
        token_hash=None,
    )


def _memberships_end(memberships: Any, by: User | None, reason: str) -> int:
    return memberships.update(
        status=Membership.Status.REVOKED,
        revoked_at=timezone.now(),
        revoked_by=by,
        revoked_reason=reason,
        updated_at=timezone.now(),
    )


def _owned(user: User) -> list[Membership]:
    return list(
        Membership.objects.filter(
            user=user, status=Membership.Status.ACTIVE, role__kind=Role.Kind.OWNER
        ).select_related("organization")
    )


@transaction.atomic
def user_terminate(*, user: User, by: User | None, reason: str) -> User:
    """Offboard a user: end every membership, revoke every session and (by
    the registered revokers) every token and key, cancel the invitations
    they sent, and keep who did it and why. Their data stays."""
    reason = _reason_check(reason)
    if by is not None:
        # Terminating a person everywhere is the operator's act.
        authorization.permission_require(by, "members.manage")
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.terminated_at is not None:
        raise ServiceError(
            "This user is already terminated.", code="already_terminated", status_code=409
        )
    for membership in _owned(locked):
        owner_guard(membership.organization, [membership.pk])

    memberships = _memberships_end(
        Membership.objects.filter(user=locked, status=Membership.Status.ACTIVE), by, reason
    )
    locked.terminated_at = timezone.now()
    locked.terminated_reason = reason
    locked.is_active = False
    locked.credentials_version += 1
    locked.save(
        update_fields=["terminated_at", "terminated_reason", "is_active", "credentials_version"]
    )
    sessions = sessions_revoke(locked)
    invitations = _invitations_cancel(locked, None, f"inviter terminated: {reason}")
    revoked = termination.revokers_run(user=locked, organization=None, by=by, reason=reason)

    from audit.services import security_event_record

    security_event_record(
        event_type="user.terminated",
        actor=by,
        target_user=locked,
        detail={
            "reason": reason,
            "memberships": memberships,
            "sessions": sessions,
            "invitations_cancelled": invitations,
            "revoked": revoked,
        },
    )
    authorization.access_cache_clear(user)
    logger.info("user.terminated", extra={"user_id": locked.pk, "sessions": sessions})
    user.refresh_from_db()
    return locked


@transaction.atomic
def membership_remove(*, membership: Membership, by: User | None, reason: str) -> Membership:
    """Remove a member from one organization (needs ``members.manage``)."""
    if by is not None:
        authorization.permission_require(by, "members.manage", membership.organization)
    return membership_end(membership=membership, by=by, reason=reason)


@transaction.atomic
def membership_end(*, membership: Membership, by: User | None, reason: str) -> Membership:
    """End a membership whose removal is already authorized (an access-review
    revoke, a removal): the owner guard holds, the member's credentials for
    the organization are revoked, and when it was their last organization so
    are their sessions."""
    reason = _reason_check(reason)
    locked = (
        # Lock the membership only: the owner guard locks the organization.
        Membership.objects.select_for_update(of=("self",))
        .select_related("role", "organization", "user")
        .get(pk=membership.pk)
    )
    if locked.status != Membership.Status.ACTIVE:
        return locked
    if locked.role.kind == Role.Kind.OWNER:
        owner_guard(locked.organization, [locked.pk])

    _memberships_end(Membership.objects.filter(pk=locked.pk), by, reason)
    user = locked.user
    others = (
        Membership.objects.filter(user=user, status=Membership.Status.ACTIVE)
        .exclude(pk=locked.pk)
        .exists()
    )
    sessions = 0
    if not others:
        # Nothing left to sign in for: end the sessions and every token now.
        sessions = sessions_revoke(user)
        User.objects.filter(pk=user.pk).update(credentials_version=F("credentials_version") + 1)
    invitations = _invitations_cancel(user, locked.organization, f"member removed: {reason}")
    revoked = termination.revokers_run(
        user=user, organization=locked.organization, by=by, reason=reason
    )

    from audit.services import security_event_record

    security_event_record(
        event_type="role.revoked",
        actor=by,
        target_user=user,
        organization=locked.organization_id,
        detail={
            "membership": str(locked.public_id),
            "role": locked.role.name,
            "reason": reason,
            "sessions": sessions,
            "invitations_cancelled": invitations,
            "revoked": revoked,
        },
    )
    authorization.access_cache_clear(membership.user)
    locked.refresh_from_db()
    return locked


@transaction.atomic
def organization_close(*, organization: Organization, by: User | None, reason: str) -> int:
    """End everyone's access to an organization: what deleting it must do.

    Every current membership ends through the same steps as a removal
    (credentials of the organization revoked by the registered revokers,
    sessions and tokens ended for whoever has no other organization left,
    invitations and pending approvals withdrawn). The rows stay: the
    security events and the audit chain refer to them, and removing data is
    the retention policy's decision, not an admin click. Return how many
    memberships ended.
    """
    reason = _reason_check(reason)
    if by is not None and not (
        authorization.user_has_perm(by, "org.delete", organization, record_denial=False)
        or authorization.user_has_perm(by, "members.manage")
    ):
        authorization.permission_denied_record(by, "org.delete", organization.pk)
        raise ServiceError(
            "You may not close this organization.", code="permission_denied", status_code=403
        )
    if organization.is_operator:
        raise ServiceError(
            "The operator organization cannot be closed.", code="operator", status_code=409
        )
    locked = Organization.objects.select_for_update().get(pk=organization.pk)
    current = list(
        Membership.objects.filter(organization=locked, status=Membership.Status.ACTIVE)
        .select_related("user")
        .order_by("pk")
    )
    ended = _memberships_end(Membership.objects.filter(pk__in=[m.pk for m in current]), by, reason)
    still_elsewhere = set(
        Membership.objects.filter(
            user_id__in=[m.user_id for m in current], status=Membership.Status.ACTIVE
        ).values_list("user_id", flat=True)
    )
    for membership in current:
        user = membership.user
        if user.pk not in still_elsewhere:
            sessions_revoke(user)
            User.objects.filter(pk=user.pk).update(
                credentials_version=F("credentials_version") + 1
            )
        _invitations_cancel(user, locked, f"organization closed: {reason}")
        termination.revokers_run(user=user, organization=locked, by=by, reason=reason)
        authorization.access_cache_clear(user)
    # Invitations sent by people no longer members are withdrawn too.
    Invitation.objects.filter(
        organization=locked,
        status__in=[Invitation.Status.PENDING, Invitation.Status.AWAITING_APPROVAL],
    ).update(
        status=Invitation.Status.REVOKED,
        revoked_at=timezone.now(),
        revoked_reason=f"organization closed: {reason}"[:255],
        token_hash=None,
    )

    from audit.services import security_event_record

    security_event_record(
        event_type="organization.closed",
        actor=by,
        organization=locked,
        detail={"reason": reason, "memberships": ended},
    )
    logger.info("organization.closed", extra={"organization_id": locked.pk, "memberships": ended})
    return ended
