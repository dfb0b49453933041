"""Automated containment of critical alerts, and its reversal by an admin.

Each step is recorded as a ContainmentAction (what it changed, so it can be
undone exactly) and as a security event (who or what acted, and when).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User, UserSession
from audit.detection import blocklist, types
from audit.models import Alert, AlertEvent, BlockedAddress, ContainmentAction, SecurityEvent
from audit.services import security_event_record
from cloudexpress import requestcontext
from cloudexpress.api.exceptions import ServiceError

logger = logging.getLogger(__name__)


def containment_settings() -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "enabled": True,
        "block_minutes": 24 * 60,
        "max_age_minutes": 24 * 60,
        "never_block": ["127.0.0.0/8", "::1/128"],
    }
    return {**defaults, **getattr(settings, "DETECTION_CONTAINMENT", {})}


def _blockable(ip: str | None, never: list[str]) -> bool:
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return not any(address in ipaddress.ip_network(net, strict=False) for net in never)


def alert_contain(*, alert: Alert, now: dt.datetime | None = None) -> list[ContainmentAction]:
    """Lock the account, revoke its sessions and credentials, block the address.

    Does nothing when containment is off, the alert is already contained, or
    its activity is older than ``max_age_minutes`` (an old imported log).
    """
    config = containment_settings()
    now = now or timezone.now()
    if not config["enabled"]:
        return []
    if now - alert.last_event_at > dt.timedelta(minutes=int(config["max_age_minutes"])):
        return []

    with requestcontext.system_job("detection:containment"), transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if alert.contained_at is not None:
            return []
        actions: list[ContainmentAction] = []
        user = (
            User.objects.filter(pk=alert.subject_user_id).first()
            if alert.subject_user_id is not None and _seen_by_the_portal(alert)
            else None
        )
        if user is not None:
            # Two alerts about one attack (by address and by account) lock
            # the account and revoke its sessions once, so reversing that one
            # step restores it; a locked account can hold no new session.
            already_locked = ContainmentAction.objects.filter(
                kind=ContainmentAction.Kind.LOCK_ACCOUNT,
                user=user,
                state=ContainmentAction.State.APPLIED,
            ).exists()
            if not already_locked:
                actions.append(_lock_account(alert, user))
                actions.append(_revoke_sessions(alert, user))
        if _blockable(alert.source_ip, list(config["never_block"])) and not (
            BlockedAddress.objects.filter(
                network=str(ipaddress.ip_network(str(alert.source_ip))),
                lifted_at=None,
                expires_at__gt=now,
            ).exists()
        ):
            actions.append(_block_address(alert, now, int(config["block_minutes"])))
        alert.contained_at = now
        alert.save(update_fields=["contained_at"])
    logger.info("alert.contained", extra={"alert_id": alert.pk, "steps": len(actions)})
    return actions


def _seen_by_the_portal(alert: Alert) -> bool:
    """Whether the portal itself recorded any of the alert's events.

    Ingested lines can name any account; an account is locked only when the
    portal saw part of the attack, so the ingest endpoint cannot be used to
    lock people out. The address is still blocked on ingested evidence.
    """
    event_ids = AlertEvent.objects.filter(alert=alert).values("event_id")
    return (
        SecurityEvent.objects.filter(pk__in=event_ids)
        .exclude(system_actor__startswith="ingest:")
        .exists()
    )


def _lock_account(alert: Alert, user: User) -> ContainmentAction:
    action = ContainmentAction.objects.create(
        alert=alert,
        kind=ContainmentAction.Kind.LOCK_ACCOUNT,
        user=user,
        detail={"was_active": user.is_active},
    )
    user.is_active = False
    user.save(update_fields=["is_active"])
    security_event_record(
        event_type=SecurityEvent.Type.LOCKED_OUT,
        target_user=user,
        detail={"by": "containment", "alert": str(alert.public_id), "rule": alert.rule},
    )
    return action


def _revoke_sessions(alert: Alert, user: User) -> ContainmentAction:
    from accounts.auth.revocation import credentials_revoke
    from accounts.models import ApiKey, TokenFamily

    sessions = UserSession.objects.filter(user=user).count()
    keys = list(
        ApiKey.objects.filter(user=user, revoked_at__isnull=True).values_list("pk", flat=True)
    )
    families = TokenFamily.objects.filter(user_id=user.pk, revoked_at__isnull=True).count()
    # The accounts service ends every credential at once: sessions, JWT
    # families (and, by the version bump, every access token) and API keys.
    # A key must be revoked, not only refused while the account is locked:
    # reversing the lock would otherwise hand a stolen key back its use.
    credentials_revoke(user=user, reason="containment", sessions=True, api_keys=True)
    user.refresh_from_db(fields=["credentials_version"])
    action = ContainmentAction.objects.create(
        alert=alert,
        kind=ContainmentAction.Kind.REVOKE_SESSIONS,
        user=user,
        detail={
            "sessions": sessions,
            "api_keys": keys,
            "token_families": families,
            "credentials_version": user.credentials_version,
        },
    )
    security_event_record(
        event_type=SecurityEvent.Type.SESSION_REVOKED,
        target_user=user,
        detail={
            "by": "containment",
            "alert": str(alert.public_id),
            "sessions": sessions,
            "api_keys": len(keys),
            "token_families": families,
        },
    )
    return action


def _block_address(alert: Alert, now: dt.datetime, minutes: int) -> ContainmentAction:
    assert alert.source_ip
    network = str(ipaddress.ip_network(alert.source_ip))
    block = BlockedAddress.objects.create(
        network=network,
        reason=f"alert {alert.rule}"[:200],
        alert=alert,
        created_at=now,
        expires_at=now + dt.timedelta(minutes=minutes),
    )
    action = ContainmentAction.objects.create(
        alert=alert,
        kind=ContainmentAction.Kind.BLOCK_IP,
        blocked_address=block,
        detail={"network": network, "expires_at": block.expires_at.isoformat()},
    )
    security_event_record(
        event_type=types.CONTAINMENT_IP_BLOCKED,
        severity=SecurityEvent.Severity.HIGH,
        ip=alert.source_ip,
        detail={"alert": str(alert.public_id), "minutes": minutes},
    )
    _blocklist_changed()
    return action


def _blocklist_changed() -> None:
    # Now, so this process and its tests see it at once, and again at commit
    # so a process that reloaded in between reloads once more.
    blocklist.invalidate()
    transaction.on_commit(blocklist.invalidate)


def address_block(
    *, network: str, reason: str, minutes: int, by: User | None = None
) -> BlockedAddress:
    """Block an address or range by hand."""
    parsed = ipaddress.ip_network(network, strict=False)
    now = timezone.now()
    with transaction.atomic():
        block = BlockedAddress.objects.create(
            network=str(parsed),
            reason=reason[:200],
            created_at=now,
            expires_at=now + dt.timedelta(minutes=minutes),
        )
        security_event_record(
            event_type=types.CONTAINMENT_IP_BLOCKED,
            actor=by,
            detail={"network": str(parsed), "minutes": minutes, "by": "hand"},
        )
        _blocklist_changed()
    return block


def containment_reverse(*, action: ContainmentAction, by: User) -> ContainmentAction:
    """Undo one containment step; only an operator member whose role may run
    incidents (``incidents.manage``) may. The staff flag alone grants nothing."""
    from audit.detection.permissions import user_has_permission

    if not user_has_permission(by, "incidents.manage"):
        raise ServiceError(
            "Only an admin can reverse containment.", code="permission_denied", status_code=403
        )
    with transaction.atomic():
        action = ContainmentAction.objects.select_for_update().get(pk=action.pk)
        if action.state == ContainmentAction.State.REVERSED:
            raise ServiceError(
                "This step is already reversed.", code="already_reversed", status_code=409
            )
        now = timezone.now()
        if action.kind == ContainmentAction.Kind.LOCK_ACCOUNT and action.user_id:
            User.objects.filter(pk=action.user_id).update(
                is_active=bool(action.detail.get("was_active", True))
            )
            security_event_record(
                event_type=SecurityEvent.Type.UNLOCKED,
                actor=by,
                target_user=action.user_id,
                detail={"by": "containment_reverse", "action": action.pk},
            )
        elif action.kind == ContainmentAction.Kind.BLOCK_IP and action.blocked_address_id:
            BlockedAddress.objects.filter(pk=action.blocked_address_id).update(
                lifted_at=now, lifted_by=by
            )
            _blocklist_changed()
        # Revoked sessions and raised credential versions cannot come back:
        # the user signs in again. Reversing only records that it was cleared.
        security_event_record(
            event_type=types.CONTAINMENT_REVERSED,
            actor=by,
            target_user=action.user_id,
            detail={"action": action.pk, "kind": action.kind},
        )
        action.state = ContainmentAction.State.REVERSED
        action.reversed_at = now
        action.reversed_by = by
        action.save(update_fields=["state", "reversed_at", "reversed_by"])
    return action
