"""In-app and e-mail notifications, with per-user preferences.

``account_security_notify`` is the service the sign-in, password, MFA and
API-key code calls to tell a user about a security event on their own
account.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Membership, User
from audit.models import Alert, Incident, Notification, NotificationPreference

logger = logging.getLogger(__name__)

Kind = Notification.Kind

ACCOUNT_EVENT_TEXT: dict[str, tuple[str, str]] = {
    "new_network_sign_in": (
        "New sign-in to your account",
        "Someone signed in to your account from a network or country you have not used "
        "before. If this was not you, change your password and contact the security team.",
    ),
    "new_device_sign_in": (
        "Sign-in from a new device",
        "Your account was used from a device we have not seen before. If this was not you, "
        "change your password and contact the security team.",
    ),
    "password_changed": (
        "Your password was changed",
        "The password of your account was changed. If you did not do this, contact the "
        "security team at once.",
    ),
    "mfa_changed": (
        "Your two-factor settings changed",
        "A two-factor method was added to or removed from your account. If you did not do "
        "this, contact the security team at once.",
    ),
    "api_key_created": (
        "A new API key was created",
        "A new API key was created on your account. If you did not do this, revoke it and "
        "contact the security team.",
    ),
}


def preferences_for(user_ids: list[int], kind: str) -> dict[int, tuple[bool, bool]]:
    rows = NotificationPreference.objects.filter(user_id__in=user_ids, kind=kind).values_list(
        "user_id", "in_app", "email"
    )
    found = {user_id: (in_app, email) for user_id, in_app, email in rows}
    return {user_id: found.get(user_id, (True, True)) for user_id in user_ids}


def preference_set(*, user: User, kind: str, in_app: bool, email: bool) -> NotificationPreference:
    # A user may silence the in-app copy of their own account's security
    # events but not the e-mail: it is how they learn of a takeover.
    if kind == Kind.ACCOUNT_SECURITY:
        email = True
    preference, _ = NotificationPreference.objects.update_or_create(
        user=user, kind=kind, defaults={"in_app": in_app, "email": email}
    )
    return preference


def notification_send(
    *,
    recipients: list[int],
    kind: str,
    title: str,
    body: str,
    link: str = "",
    dedup_key: str,
) -> list[Notification]:
    """Notify each recipient as their preferences say; once per dedup key."""
    if not recipients:
        return []
    preferences = preferences_for(recipients, kind)
    emails = dict(
        User.objects.filter(pk__in=recipients, is_active=True).values_list("pk", "email")
    )
    made: list[Notification] = []
    for user_id in recipients:
        in_app, by_email = preferences[user_id]
        if user_id not in emails:
            continue
        try:
            with transaction.atomic():
                notification = Notification.objects.create(
                    recipient_id=user_id,
                    kind=kind,
                    title=title[:200],
                    body=body,
                    link=link[:300],
                    dedup_key=dedup_key[:200],
                    # An e-mail-only preference still leaves a row, read, so
                    # the send is recorded and never repeated.
                    read_at=None if in_app else timezone.now(),
                )
        except IntegrityError:
            continue
        if by_email:
            # The in-app row is already stored; a relay that refuses the mail
            # must not turn the caller's request into a 500. emailed_at stays
            # empty, which is what says the mail is still owed.
            try:
                send_mail(
                    subject=f"[CloudExpress] {title}"[:200],
                    message=f"{body}\n\n{link}".strip(),
                    from_email=settings.DEFAULT_FROM_EMAIL,
                    recipient_list=[emails[user_id]],
                    fail_silently=False,
                )
            except OSError:
                logger.warning("notification.mail_failed", extra={"kind": kind}, exc_info=True)
            else:
                Notification.objects.filter(pk=notification.pk).update(emailed_at=timezone.now())
        made.append(notification)
    logger.info("notification.sent", extra={"kind": kind, "recipients": len(made)})
    return made


def security_team_ids() -> list[int]:
    """Operator members whose role grants security_events.view (the staff
    flag alone makes nobody part of the security team)."""
    from audit.detection.permissions import roles_with_permission

    roles = roles_with_permission("security_events.view")
    members = Membership.objects.filter(
        organization__is_operator=True,
        status=Membership.Status.ACTIVE,
        role__in=roles,
    ).values_list("user_id", flat=True)
    return list(
        User.objects.filter(pk__in=members, is_active=True, terminated_at=None)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def alerts_notify(*, alerts: list[Alert]) -> int:
    if not alerts:
        return 0
    team = security_team_ids()
    sent = 0
    for alert in alerts:
        recipients = [alert.owner_id] if alert.owner_id else team
        sent += len(
            notification_send(
                recipients=[r for r in recipients if r],
                kind=Kind.ALERT_RAISED,
                title=f"{alert.get_severity_display()} alert: {alert.title}",
                body=f"Rule {alert.rule} raised an alert counting {alert.event_count} events.",
                link=f"/security/alerts/{alert.public_id}/",
                dedup_key=f"alert:{alert.pk}",
            )
        )
    return sent


def incident_notify(*, incident: Incident, change: str) -> int:
    recipients = {incident.owner_id, incident.opened_by_id} - {None}
    stamp = timezone.now().isoformat(timespec="seconds")
    return len(
        notification_send(
            recipients=sorted(r for r in recipients if r is not None),
            kind=Kind.INCIDENT_CHANGED,
            title=f"Incident: {incident.title}",
            body=change,
            link=f"/security/incidents/{incident.public_id}/",
            dedup_key=f"incident:{incident.pk}:{change}:{stamp}",
        )
    )


def account_security_notify(
    *, user: User | int, event_kind: str, event_id: int | None = None, detail: Any = None
) -> list[Notification]:
    """Tell a user about a security event on their own account.

    ``event_kind`` is one of ``ACCOUNT_EVENT_TEXT``; ``event_id`` makes a
    repeated call for the same event a no-op.
    """
    user_id = user if isinstance(user, int) else user.pk
    title, body = ACCOUNT_EVENT_TEXT[event_kind]
    dedup = f"account:{event_kind}:{event_id}" if event_id else f"account:{event_kind}:{detail}"
    return notification_send(
        recipients=[user_id],
        kind=Kind.ACCOUNT_SECURITY,
        title=title,
        body=body,
        link="/security/notifications/",
        dedup_key=dedup,
    )


def reminders_send(*, now: dt.datetime | None = None, stale_hours: int = 24) -> int:
    """Remind owners of open incidents whose phase has not moved for a day.

    Deduplicated per incident, phase and day: a repeated run the same day
    sends nothing, a missed day is caught up by the next run.
    """
    now = now or timezone.now()
    sent = 0
    stale = Incident.objects.filter(status=Incident.Status.OPEN).exclude(owner=None)
    for incident in stale.prefetch_related("phases"):
        current = [p for p in incident.phases.all() if p.phase == incident.phase]
        since = current[0].started_at if current else incident.detected_at
        if now - since < dt.timedelta(hours=stale_hours):
            continue
        assert incident.owner_id is not None
        sent += len(
            notification_send(
                recipients=[incident.owner_id],
                kind=Kind.REMINDER,
                title=f"Incident waiting in {incident.get_phase_display()}: {incident.title}",
                body="This incident has not moved to its next phase for a day.",
                link=f"/security/incidents/{incident.public_id}/",
                dedup_key=f"reminder:{incident.pk}:{incident.phase}:{now.date().isoformat()}",
            )
        )
    return sent


def notifications_purge(*, now: dt.datetime | None = None) -> int:
    """Remove in-app notifications older than the retention period."""
    now = now or timezone.now()
    days = int(getattr(settings, "NOTIFICATION_RETENTION_DAYS", 90))
    deleted, _ = Notification.objects.filter(created_at__lt=now - dt.timedelta(days=days)).delete()
    if deleted:
        logger.info("notification.purged", extra={"deleted": deleted})
    return deleted
