"""django-axes glue: which account an attempt names, lockout episodes and
their recorded unlocks.

allauth authenticates with ``email=...``, the admin and the token endpoint
with ``username=...`` or ``email=...``; axes reads only
``AXES_USERNAME_FORM_FIELD`` (``username``) unless told otherwise, so without
this callable every allauth failure would count against no account at all.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from axes.models import AccessAttempt
from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import LockoutEpisode, normalise_email
from audit.models import SecurityEvent
from audit.services import security_event_record

logger = logging.getLogger(__name__)

# Credential keys, then form fields, in the order the sign-in paths use them.
_CREDENTIAL_KEYS = ("email", "username", "login")


def axes_username(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str:
    """Return the folded e-mail an attempt names ('' when it names none)."""
    for key in _CREDENTIAL_KEYS:
        value = (credentials or {}).get(key)
        if value:
            return normalise_email(str(value))
    data = getattr(request, "data", None) or getattr(request, "POST", None) or {}
    for key in _CREDENTIAL_KEYS:
        value = data.get(key) if hasattr(data, "get") else None
        if value:
            return normalise_email(str(value))
    return ""


def _failures_since(kind: str, subject: str, since: datetime) -> int:
    field = "username" if kind == LockoutEpisode.Kind.ACCOUNT else "ip_address"
    total = AccessAttempt.objects.filter(**{field: subject}, attempt_time__gte=since).aggregate(
        total=Sum("failures_since_start")
    )["total"]
    return int(total or 0)


def lockout_in_force(kind: str, subject: str, now: datetime | None = None) -> bool:
    """Whether axes locks ``subject`` now, by axes' own rule: the failures of
    the attempts newer than the cool-off reach the limit (axes ignores older
    ones and deletes them only at the next failure: its expiry is lazy)."""
    moment = now or timezone.now()
    since = moment - settings.AXES_COOLOFF_TIME
    return _failures_since(kind, subject, since) >= settings.AXES_FAILURE_LIMIT


def lockout_episodes_open(*, username: str | None, ip: str | None) -> int:
    """Open an episode for each subject axes now locks (at most one open per
    subject: a repeated lock signal during the lockout adds nothing)."""
    from accounts.models import User

    now = timezone.now()
    episodes = []
    if username and lockout_in_force(LockoutEpisode.Kind.ACCOUNT, username, now):
        user_id = User.objects.filter(email=username).values_list("pk", flat=True).first()
        episodes.append(
            LockoutEpisode(
                kind=LockoutEpisode.Kind.ACCOUNT, subject=username, user_id=user_id, locked_at=now
            )
        )
    if ip and lockout_in_force(LockoutEpisode.Kind.ADDRESS, ip, now):
        episodes.append(
            LockoutEpisode(kind=LockoutEpisode.Kind.ADDRESS, subject=ip, locked_at=now)
        )
    created = LockoutEpisode.objects.bulk_create(episodes, ignore_conflicts=True)
    return len(created)


def _episode_close(episode: LockoutEpisode, *, reason: str, actor: Any, now: datetime) -> bool:
    """Close one episode and record its unlock, exactly once: the conditional
    UPDATE lets one caller through however many run at the same time."""
    closed = LockoutEpisode.objects.filter(pk=episode.pk, unlocked_at__isnull=True).update(
        unlocked_at=now, unlock_reason=reason
    )
    if closed != 1:
        return False
    address = episode.kind == LockoutEpisode.Kind.ADDRESS
    security_event_record(
        event_type=SecurityEvent.Type.UNLOCKED,
        actor=actor,
        target_user=episode.user_id,
        ip=episode.subject if address else None,
        detail={
            "lockout": episode.kind,
            "reason": reason,
            "episode": episode.pk,
            "locked_seconds": int((now - episode.locked_at).total_seconds()),
        },
    )
    logger.info("lockout.unlocked", extra={"episode_id": episode.pk, "reason": reason})
    return True


def lockouts_expired_close(
    *, now: datetime | None = None, subjects: list[tuple[str, str]] | None = None
) -> int:
    """Record the unlock of every open episode that axes no longer enforces.

    Run by the beat job and at each sign-in attempt (for that attempt's
    account and address), so an unlock is recorded when first observed.
    Safe to run any number of times, in parallel too. An episode whose
    attempts vanished before the cool-off could end was lifted by hand
    (axes' admin or reset command).
    """
    moment = now or timezone.now()
    episodes = LockoutEpisode.objects.filter(unlocked_at__isnull=True)
    if subjects is not None:
        wanted = Q(pk__in=[])
        for kind, subject in subjects:
            if subject:
                wanted |= Q(kind=kind, subject=subject)
        episodes = episodes.filter(wanted)
    count = 0
    for episode in episodes.order_by("pk"):
        if lockout_in_force(episode.kind, episode.subject, moment):
            continue
        expired = moment >= episode.locked_at + settings.AXES_COOLOFF_TIME
        reason = (
            LockoutEpisode.UnlockReason.COOL_OFF_EXPIRED
            if expired
            else LockoutEpisode.UnlockReason.MANUAL
        )
        count += _episode_close(episode, reason=reason, actor=None, now=moment)
    return count


@transaction.atomic
def lockout_clear(*, email: str | None = None, ip: str | None = None, actor: Any = None) -> int:
    """Lift a lockout by account and/or address, and record who lifted it
    (one unlock per open episode; one event for the lift when none was open)."""
    if not email and not ip:
        raise ValueError("Name the account or the address to unlock.")
    folded = normalise_email(email) if email else None
    attempts = AccessAttempt.objects.all()
    if folded:
        attempts = attempts.filter(username=folded)
    if ip:
        attempts = attempts.filter(ip_address=ip)
    # Every account and address these rows counted for may be unlocked by
    # their removal: the lift is this actor's, whichever subject it frees.
    touched = set(attempts.values_list("username", "ip_address"))
    count, _ = attempts.delete()

    now = timezone.now()
    subjects = Q(pk__in=[])
    for username, address in touched | {(folded, ip)}:
        if username:
            subjects |= Q(kind=LockoutEpisode.Kind.ACCOUNT, subject=username)
        if address:
            subjects |= Q(kind=LockoutEpisode.Kind.ADDRESS, subject=address)
    closed = sum(
        _episode_close(episode, reason=LockoutEpisode.UnlockReason.MANUAL, actor=actor, now=now)
        for episode in LockoutEpisode.objects.filter(subjects, unlocked_at__isnull=True)
        if not lockout_in_force(episode.kind, episode.subject, now)
    )
    if not closed:
        security_event_record(
            event_type=SecurityEvent.Type.UNLOCKED,
            actor=actor,
            detail={
                "reason": LockoutEpisode.UnlockReason.MANUAL,
                "email_given": bool(email),
                "ip": ip or "",
                "attempt_rows": count,
            },
        )
    logger.info("lockout.cleared", extra={"rows": count, "episodes": closed})
    return count
