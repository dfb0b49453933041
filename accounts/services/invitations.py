"""Invitations: an admin invites by e-mail with a role no higher than their
own; the link is single-use, expires in 7 days and can be revoked."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import authorization
from accounts.models import (
    ApprovalRequest,
    Invitation,
    Membership,
    Organization,
    Role,
    User,
    normalise_email,
)
from accounts.services import approvals
from accounts.services.memberships import expiry_check
from accounts.services.roles import grant_guard, role_codes_resolve, role_usable_in
from cloudexpress.api.exceptions import ServiceError

logger = logging.getLogger(__name__)

INVITATION_LIFETIME = timedelta(days=7)
OPEN_STATUSES = (Invitation.Status.PENDING, Invitation.Status.AWAITING_APPROVAL)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_url(token: str) -> str:
    return f"{settings.PORTAL_BASE_URL}/invitations/{token}"


def _event(event_type: str, invitation: Invitation, actor: Any, **detail: Any) -> None:
    from audit.services import security_event_record

    security_event_record(
        event_type=event_type,
        actor=actor,
        organization=invitation.organization_id,
        detail={
            "invitation": str(invitation.public_id),
            "role": invitation.role.name,
            **detail,
        },
    )


@transaction.atomic
def invitation_send(
    *,
    organization: Organization,
    email: str,
    role: Role,
    invited_by: User,
    membership_expires_at: datetime | None = None,
) -> Invitation:
    """Invite someone. An invitation to a privileged role waits for a second
    person's approval before its e-mail goes out."""
    authorization.permission_require(invited_by, "members.invite", organization)
    role_usable_in(role, organization)
    # "No higher than their own": every permission the role gives, the
    # inviter must hold.
    grant_guard(invited_by, organization, role_codes_resolve(role))
    expiry_check(role, membership_expires_at)
    email = normalise_email(email)

    already = Membership.objects.filter(
        organization=organization, user__email=email, status=Membership.Status.ACTIVE
    ).exists()
    if already:
        raise ServiceError(
            "That person is already a member.", code="already_member", status_code=409
        )
    invitations_expire(organization=organization, email=email)

    privileged = role.kind in authorization.PRIVILEGED_KINDS
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                organization=organization,
                email=email,
                role=role,
                membership_expires_at=membership_expires_at,
                invited_by=invited_by,
                status=Invitation.Status.AWAITING_APPROVAL
                if privileged
                else Invitation.Status.PENDING,
            )
    except IntegrityError:
        raise ServiceError(
            "An invitation for that address is already open; revoke it first.",
            code="invitation_open",
            status_code=409,
        ) from None

    if privileged:
        approvals.approval_request_create(
            organization=organization,
            kind=ApprovalRequest.Kind.INVITATION_SEND,
            payload={"invitation": str(invitation.public_id)},
            requested_by=invited_by,
            summary=f"Invite {email} as {role.name}",
        )
    else:
        _issue(invitation, invited_by)
    return invitation


def _issue(invitation: Invitation, actor: User | None) -> None:
    """Make the token, store its hash, send the e-mail."""
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    invitation.token_hash = token_hash(token)
    invitation.status = Invitation.Status.PENDING
    invitation.sent_at = now
    invitation.expires_at = now + INVITATION_LIFETIME
    invitation.save(update_fields=["token_hash", "status", "sent_at", "expires_at"])

    organization = invitation.organization
    inviter = invitation.invited_by.get_full_name() if invitation.invited_by else "An admin"
    send_mail(
        subject=f"You are invited to {organization.name} on CloudExpress",
        message=(
            f"{inviter} invites you to join {organization.name} as {invitation.role.name}.\n\n"
            f"Accept within 7 days, once: {invitation_url(token)}\n\n"
            "If you did not expect this, ignore this message."
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )
    _event("invitation.sent", invitation, actor)
    logger.info("invitation.sent", extra={"invitation_id": invitation.pk})


def _invitation_send_execute(approval: ApprovalRequest) -> dict[str, Any]:
    invitation = Invitation.objects.select_for_update().get(
        public_id=approval.payload["invitation"], organization_id=approval.organization_id
    )
    if invitation.status != Invitation.Status.AWAITING_APPROVAL:
        raise ServiceError(
            "The invitation is no longer waiting.", code="invitation_closed", status_code=409
        )
    _issue(invitation, approval.requested_by)
    return {"invitation": str(invitation.public_id)}


def _invitation_send_refused(approval: ApprovalRequest) -> None:
    Invitation.objects.filter(
        public_id=approval.payload.get("invitation"),
        status=Invitation.Status.AWAITING_APPROVAL,
    ).update(status=Invitation.Status.REFUSED)


approvals.approval_executor_register(
    ApprovalRequest.Kind.INVITATION_SEND,
    execute=_invitation_send_execute,
    request_permission="members.invite",
    on_refuse=_invitation_send_refused,
)


def invitations_expire(*, organization: Organization | None = None, email: str = "") -> int:
    """Mark open invitations past their expiry as expired."""
    stale = Invitation.objects.filter(
        status=Invitation.Status.PENDING, expires_at__lte=timezone.now()
    )
    if organization is not None:
        stale = stale.filter(organization=organization)
    if email:
        stale = stale.filter(email__iexact=email)
    return stale.update(status=Invitation.Status.EXPIRED, token_hash=None)


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, by: User, reason: str = "") -> Invitation:
    authorization.permission_require(by, "members.invite", invitation.organization)
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if locked.status not in OPEN_STATUSES:
        raise ServiceError(
            "Only an open invitation can be revoked.", code="invitation_closed", status_code=409
        )
    locked.status = Invitation.Status.REVOKED
    locked.revoked_at = timezone.now()
    locked.revoked_by = by
    locked.revoked_reason = reason[:255]
    locked.token_hash = None
    locked.save(
        update_fields=["status", "revoked_at", "revoked_by", "revoked_reason", "token_hash"]
    )
    for pending in ApprovalRequest.objects.filter(
        kind=ApprovalRequest.Kind.INVITATION_SEND,
        status=ApprovalRequest.Status.PENDING,
        payload__invitation=str(locked.public_id),
    ):
        approvals.approval_cancel(approval=pending, reason="invitation revoked")
    _event("invitation.revoked", locked, by)
    return locked


def invitation_for_token(token: str) -> Invitation:
    """The pending invitation a token opens, or a refusal that says why."""
    invitation = (
        Invitation.objects.select_related("organization", "role", "invited_by")
        .filter(token_hash=token_hash(token or ""))
        .first()
    )
    if invitation is None:
        raise ServiceError(
            "This invitation link is not valid: it was used, revoked or mistyped.",
            code="invitation_invalid",
            status_code=404,
        )
    if invitation.expires_at is None or invitation.expires_at <= timezone.now():
        raise ServiceError(
            "This invitation has expired: ask for a new one.",
            code="invitation_expired",
            status_code=410,
        )
    return invitation


@transaction.atomic
def invitation_accept(
    *,
    token: str,
    user: User | None = None,
    full_name: str = "",
    password: str | None = None,
) -> Membership:
    """Accept an invitation, once. A signed-in user must be the invited
    address; someone without an account creates one here."""
    found = invitation_for_token(token)
    invitation = Invitation.objects.select_for_update().get(pk=found.pk)
    if invitation.status != Invitation.Status.PENDING or invitation.token_hash is None:
        raise ServiceError(
            "This invitation link is not valid: it was used, revoked or mistyped.",
            code="invitation_invalid",
            status_code=404,
        )

    if user is not None and user.is_authenticated:
        if normalise_email(user.email) != invitation.email:
            raise ServiceError(
                "This invitation is for another e-mail address.",
                code="invitation_wrong_account",
                status_code=403,
            )
        if user.terminated_at is not None:
            raise ServiceError(
                "This account is closed.", code="account_terminated", status_code=403
            )
    else:
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise ServiceError(
                "An account exists for this address: sign in, then open the link again.",
                code="sign_in_required",
                status_code=409,
            )
        user = User(email=invitation.email, full_name=full_name.strip())
        try:
            validate_password(password or "", user)
        except ValidationError as exc:
            raise ServiceError(" ".join(exc.messages), code="password_invalid") from None
        user.set_password(password)
        user.save()

    membership, created = Membership.objects.select_for_update().get_or_create(
        user=user,
        organization=invitation.organization,
        defaults={
            "role": invitation.role,
            "invited_by": invitation.invited_by,
            "expires_at": invitation.membership_expires_at,
        },
    )
    if not created:
        if membership.is_current():
            raise ServiceError("You are already a member.", code="already_member", status_code=409)
        # A former member comes back with the invited role, on the same row.
        membership.role = invitation.role
        membership.status = Membership.Status.ACTIVE
        membership.invited_by = invitation.invited_by
        membership.expires_at = invitation.membership_expires_at
        membership.revoked_at = None
        membership.revoked_by = None
        membership.revoked_reason = ""
        membership.save()

    invitation.status = Invitation.Status.ACCEPTED
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.membership = membership
    invitation.token_hash = None
    invitation.save(
        update_fields=["status", "accepted_at", "accepted_by", "membership", "token_hash"]
    )
    _event("invitation.accepted", invitation, user, membership=str(membership.public_id))
    authorization.access_cache_clear(user)
    return membership
