"""Memberships: who belongs to an organization, with which role."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts import authorization
from accounts.models import ApprovalRequest, Membership, Organization, Role, User
from accounts.services import approvals
from accounts.services.roles import grant_guard, role_codes_resolve, role_usable_in
from cloudexpress.api.exceptions import ServiceError

logger = logging.getLogger(__name__)

# An auditor engagement is time-boxed; a year is the longest one allowed.
AUDITOR_LONGEST = timedelta(days=366)


def membership_create(
    *,
    user: User,
    organization: Organization,
    role: Role,
    invited_by: User | None = None,
    expires_at: datetime | None = None,
) -> Membership:
    """Create a membership as it is, with no guard: for seeding and tests.
    People change memberships through invitations and ``membership_role_change``."""
    membership, _ = Membership.objects.get_or_create(
        user=user,
        organization=organization,
        defaults={"role": role, "invited_by": invited_by, "expires_at": expires_at},
    )
    return membership


# --- Guards ------------------------------------------------------------------


def _is_current_owner(membership: Membership, now: datetime) -> bool:
    return membership.role.kind == Role.Kind.OWNER and membership.is_current(now)


def owner_guard(organization: Organization, leaving: Iterable[int]) -> None:
    """Refuse a change that would leave the organization without an active
    Owner. The organization row is locked, so two owners demoting each other
    at once cannot both succeed."""
    Organization.objects.select_for_update().filter(pk=organization.pk).first()
    now = timezone.now()
    remaining = (
        Membership.objects.filter(
            organization=organization,
            status=Membership.Status.ACTIVE,
            role__kind=Role.Kind.OWNER,
            user__terminated_at__isnull=True,
        )
        .exclude(pk__in=list(leaving))
        .exclude(expires_at__lte=now)
        .count()
    )
    if remaining == 0:
        raise ServiceError(
            "An organization must keep at least one active Owner: make someone else Owner first.",
            code="last_owner",
            status_code=409,
        )


def memberships_expire(*, now: datetime | None = None) -> int:
    """Mark memberships past their expiry as expired, each with a security
    event. Access already ended at expiry (every check compares the date);
    this makes lists, reviews and compliance checks show it."""
    from audit.services import security_event_record

    now = now or timezone.now()
    expired = 0
    due = Membership.objects.filter(
        status=Membership.Status.ACTIVE, expires_at__lte=now
    ).select_related("role")
    for membership in due:
        with transaction.atomic():
            changed = Membership.objects.filter(
                pk=membership.pk, status=Membership.Status.ACTIVE
            ).update(status=Membership.Status.EXPIRED, updated_at=now)
            if not changed:
                continue  # another run got there first
            security_event_record(
                event_type="role.revoked",
                target_user=membership.user_id,
                organization=membership.organization_id,
                detail={
                    "membership": str(membership.public_id),
                    "role": membership.role.name,
                    "reason": "expired",
                    "expires_at": membership.expires_at.isoformat()
                    if membership.expires_at
                    else None,
                },
            )
            expired += 1
    logger.info("memberships.expired", extra={"count": expired})
    return expired


def expiry_check(role: Role, expires_at: datetime | None) -> None:
    """An auditor's membership must end, within a year."""
    if role.kind != Role.Kind.AUDITOR:
        return
    now = timezone.now()
    if expires_at is None or expires_at <= now:
        raise ServiceError(
            "Auditor access is time-boxed: give an expiry date in the future.",
            code="auditor_expiry_required",
            status_code=400,
        )
    if expires_at > now + AUDITOR_LONGEST:
        raise ServiceError(
            "Auditor access may last a year at most.",
            code="auditor_expiry_too_long",
            status_code=400,
        )


# --- Role changes ------------------------------------------------------------


def membership_role_change(
    *,
    membership: Membership,
    role: Role,
    actor: User | None,
    expires_at: datetime | None = None,
    reason: str = "",
) -> Membership | ApprovalRequest:
    """Give a member another role. Owner, Admin and Auditor need a second
    person's approval: the request is returned, and the change happens when
    it is approved."""
    organization = membership.organization
    if actor is not None:
        authorization.permission_require(actor, "members.manage", organization)
    role_usable_in(role, organization)
    grant_guard(actor, organization, role_codes_resolve(role))
    expiry_check(role, expires_at)

    if role.kind in authorization.PRIVILEGED_KINDS and actor is not None:
        return approvals.approval_request_create(
            organization=organization,
            kind=ApprovalRequest.Kind.ROLE_GRANT,
            payload={
                "membership": str(membership.public_id),
                "role": str(role.public_id),
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
            requested_by=actor,
            summary=f"Make {membership.user.email} {role.name}",
            reason=reason,
        )
    return membership_role_apply(
        membership=membership, role=role, by=actor, expires_at=expires_at, reason=reason
    )


@transaction.atomic
def membership_role_apply(
    *,
    membership: Membership,
    role: Role,
    by: User | None,
    expires_at: datetime | None = None,
    reason: str = "",
) -> Membership:
    """Apply a role change that is already authorized (and approved when it
    needed to be); the owner guard still holds."""
    # Lock the membership only: joined rows (the built-in roles) are shared.
    locked = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("role")
        .get(pk=membership.pk)
    )
    if locked.status != Membership.Status.ACTIVE:
        raise ServiceError(
            "This membership has ended.", code="membership_inactive", status_code=409
        )
    if _is_current_owner(locked, timezone.now()) and role.kind != Role.Kind.OWNER:
        owner_guard(locked.organization, [locked.pk])

    previous = locked.role
    locked.role = role
    locked.expires_at = expires_at if role.kind == Role.Kind.AUDITOR or expires_at else None
    locked.save(update_fields=["role", "expires_at", "updated_at"])

    from audit.services import security_event_record

    security_event_record(
        event_type="role.granted",
        actor=by,
        target_user=locked.user_id,
        organization=locked.organization_id,
        detail={
            "membership": str(locked.public_id),
            "from": previous.name,
            "to": role.name,
            "expires_at": locked.expires_at.isoformat() if locked.expires_at else None,
            "reason": reason,
        },
    )
    authorization.access_cache_clear(locked.user)
    return locked


def _role_grant_execute(approval: ApprovalRequest) -> dict[str, Any]:
    payload = approval.payload
    membership = Membership.objects.select_related("organization").get(
        public_id=payload["membership"], organization_id=approval.organization_id
    )
    role = Role.objects.get(public_id=payload["role"])
    expires_at = parse_datetime(payload["expires_at"]) if payload.get("expires_at") else None
    # The requester must still hold what the role grants when it is applied.
    grant_guard(approval.requested_by, membership.organization, role_codes_resolve(role))
    expiry_check(role, expires_at)
    membership_role_apply(
        membership=membership,
        role=role,
        by=approval.requested_by,
        expires_at=expires_at,
        reason=f"approved request {approval.public_id}",
    )
    return {"membership": str(membership.public_id), "role": role.name}


approvals.approval_executor_register(
    ApprovalRequest.Kind.ROLE_GRANT,
    execute=_role_grant_execute,
    request_permission="members.manage",
)
