"""API keys: ``cx_<prefix>_<secret>``, shown once, stored as SHA-256.

The prefix is public (shown in lists and logs); the secret has 256 bits, so
a plain SHA-256 is as good as a slow hash here and keeps the lookup to one
indexed read. Last use is written at most once a minute per key by a
conditional UPDATE, so the hot path stays a read.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from accounts.models import ApiKey, Membership, Organization, Permission, User
from accounts.permissions import CATALOG
from audit.models import SecurityEvent
from audit.services import security_event_record

logger = logging.getLogger(__name__)

KEY_SCHEME = "cx"


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    raw: str  # shown to the creator once, never stored


class ApiKeyError(ValueError):
    pass


def _new_raw() -> tuple[str, str]:
    prefix = secrets.token_hex(6)
    return prefix, f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"


@transaction.atomic
def api_key_create(
    *,
    user: User,
    organization: Organization,
    name: str,
    scopes: list[str],
    created_by: User,
    kind: str = ApiKey.Kind.PERSONAL,
    expires_at: datetime | None = None,
) -> IssuedKey:
    """Create a key acting as ``user`` in ``organization``, limited to ``scopes``.

    A member creates personal keys for themselves; an admin creates service
    keys (``kind=service``) for a service account of the organization.
    """
    unknown = sorted(set(scopes) - set(CATALOG))
    if unknown:
        raise ApiKeyError(f"Unknown permission codes: {', '.join(unknown)}")
    if kind == ApiKey.Kind.PERSONAL and created_by.pk != user.pk:
        raise ApiKeyError("A personal key is created by its own user.")
    prefix, raw = _new_raw()
    key = ApiKey.objects.create(
        name=name,
        kind=kind,
        user=user,
        organization=organization,
        created_by=created_by,
        prefix=prefix,
        secret_hash=_hash(raw),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
    )
    security_event_record(
        event_type=SecurityEvent.Type.API_KEY_CREATED,
        actor=created_by,
        target_user=user,
        organization=organization,
        detail={"prefix": prefix, "kind": kind, "scopes": key.scopes},
    )
    return IssuedKey(key, raw)


@transaction.atomic
def api_key_rotate(*, key: ApiKey, actor: User, overlap: timedelta) -> IssuedKey:
    """Issue a successor; the old key stays valid for ``overlap`` only."""
    limit = timedelta(hours=settings.API_KEY_MAX_OVERLAP_HOURS)
    if overlap < timedelta(0) or overlap > limit:
        raise ApiKeyError(f"The overlap must be between 0 and {limit}.")
    locked = ApiKey.objects.select_for_update().get(pk=key.pk)
    if not locked.is_usable():
        raise ApiKeyError("Only a usable key can be rotated.")
    if ApiKey.objects.filter(rotated_from=locked).exists():
        raise ApiKeyError("This key was already rotated.")
    prefix, raw = _new_raw()
    successor = ApiKey.objects.create(
        name=locked.name,
        kind=locked.kind,
        user_id=locked.user_id,
        organization_id=locked.organization_id,
        created_by=actor,
        prefix=prefix,
        secret_hash=_hash(raw),
        scopes=locked.scopes,
        expires_at=locked.expires_at,
        rotated_from=locked,
    )
    old_until = timezone.now() + overlap
    if locked.expires_at is None or locked.expires_at > old_until:
        ApiKey.objects.filter(pk=locked.pk).update(expires_at=old_until)
    security_event_record(
        event_type=SecurityEvent.Type.API_KEY_ROTATED,
        actor=actor,
        target_user=locked.user_id,
        organization=locked.organization_id,
        detail={"old": locked.prefix, "new": prefix, "overlap_seconds": overlap.total_seconds()},
    )
    return IssuedKey(successor, raw)


def api_key_revoke(*, key: ApiKey, actor: User) -> None:
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    security_event_record(
        event_type=SecurityEvent.Type.API_KEY_REVOKED,
        actor=actor,
        target_user=key.user_id,
        organization=key.organization_id,
        detail={"prefix": key.prefix},
    )


def api_key_lookup(raw: str) -> ApiKey | None:
    """The key for ``raw`` with its user and organization (one query)."""
    if not raw.startswith(KEY_SCHEME + "_"):
        return None
    # The membership's state comes in the same query: the hot path is one read.
    membership = Membership.objects.filter(
        user_id=OuterRef("user_id"), organization_id=OuterRef("organization_id")
    )
    return (
        ApiKey.objects.select_related("user", "organization")
        .annotate(
            membership_status=Subquery(membership.values("status")[:1]),
            membership_expires_at=Subquery(membership.values("expires_at")[:1]),
        )
        .filter(secret_hash=_hash(raw))
        .first()
    )


def api_key_membership_current(key: Any, now: datetime | None = None) -> bool:
    """Whether the key's user is a current member (from ``api_key_lookup``'s row)."""
    moment = now or timezone.now()
    if getattr(key, "membership_status", None) != Membership.Status.ACTIVE:
        return False
    expires = getattr(key, "membership_expires_at", None)
    return expires is None or expires > moment


def api_key_touch(*, key: ApiKey, ip: str, now: datetime | None = None) -> bool:
    """Record the last use, at most once per ``API_KEY_TOUCH_SECONDS`` per key.

    The in-memory check skips the query on the hot path; the conditional
    UPDATE keeps parallel requests from writing more than once a minute.
    """
    moment = now or timezone.now()
    cutoff = moment - timedelta(seconds=settings.API_KEY_TOUCH_SECONDS)
    if key.last_used_at is not None and key.last_used_at > cutoff:
        return False
    written = (
        ApiKey.objects.filter(pk=key.pk)
        .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=cutoff))
        .update(last_used_at=moment, last_used_ip=ip)
    )
    if written != 1:
        return False
    # At most one event a minute per key: use is recorded, the hot path
    # stays a read.
    security_event_record(
        event_type=SecurityEvent.Type.API_KEY_USED,
        target_user=key.user_id,
        organization=key.organization_id,
        ip=ip,
        detail={"prefix": key.prefix},
    )
    return True


def api_key_allows(key: Any, permission_code: str) -> bool:
    """Whether a key may use ``permission_code``: its scopes hold the code AND
    its user's current role in the key's organization does.

    The role is read on every request (the authorization service's
    per-request snapshot), so a downgrade after the key was made takes the
    permission away from the key at once; no stored scope outlives it.
    """
    from accounts.authorization import user_has_perm

    if permission_code not in (key.scopes or []):
        return False
    return user_has_perm(key.user, permission_code, key.organization_id, record_denial=False)


@transaction.atomic
def service_api_key_create(
    *,
    admin: User,
    organization: Organization,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
) -> IssuedKey:
    """An admin's key for a service: it acts as its own service account, so
    the audit trail names the service and the key outlives its creator.

    The admin needs ``api_keys.manage`` and must hold every scope they give
    (nobody hands out what they do not have). The service account's role is
    a custom role of the organization holding exactly those scopes, so the
    key's role check has something to intersect with, and an admin can
    narrow the service later by changing that role.
    """
    from accounts import authorization
    from accounts.models import Role
    from accounts.services import membership_create
    from accounts.services.roles import grant_guard
    from cloudexpress.api.exceptions import ServiceError

    unknown = sorted(set(scopes) - set(CATALOG))
    if unknown:
        raise ApiKeyError(f"Unknown permission codes: {', '.join(unknown)}")
    if not authorization.user_has_perm(admin, "api_keys.manage", organization):
        raise ApiKeyError("Only an Owner or Admin of the organization creates service keys.")
    try:
        grant_guard(admin, organization, scopes)
    except ServiceError as exc:
        raise ApiKeyError(str(exc.detail)) from exc

    handle = secrets.token_hex(6)
    service = User.objects.create_user(
        email=f"svc-{handle}@service.invalid",
        password=None,
        full_name=f"Service: {name}"[:200],
    )
    role = Role.objects.create(
        organization=organization,
        name=f"Service key {handle}: {name}"[:100],
        kind=Role.Kind.CUSTOM,
        description="Holds exactly the scopes of one service API key.",
    )
    role.permissions.set(Permission.objects.filter(code__in=set(scopes)))
    membership_create(user=service, organization=organization, role=role, invited_by=admin)
    return api_key_create(
        user=service,
        organization=organization,
        name=name,
        scopes=scopes,
        created_by=admin,
        kind=ApiKey.Kind.SERVICE,
        expires_at=expires_at,
    )
