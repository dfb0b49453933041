"""Alerts: raised from rule hits, deduplicated and correlated, then worked
through open, acknowledged, resolved or false positive."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from accounts.models import User
from audit.detection import types
from audit.detection.rules import Ev, Hit
from audit.models import Alert, AlertEvent
from audit.services import security_event_record
from cloudexpress import dbvendor
from cloudexpress.api.exceptions import ServiceError

logger = logging.getLogger(__name__)

SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


def correlation_window() -> dt.timedelta:
    return dt.timedelta(minutes=int(getattr(settings, "DETECTION_CORRELATION_MINUTES", 1440)))


def _episodes(events: list[Ev], gap: dt.timedelta) -> list[list[Ev]]:
    """Split a hit's events where they fall silent for longer than ``gap``."""
    ordered = sorted({ev.id: ev for ev in events}.values(), key=lambda ev: (ev.at, ev.id))
    episodes: list[list[Ev]] = []
    for ev in ordered:
        if episodes and ev.at - episodes[-1][-1].at <= gap:
            episodes[-1].append(ev)
        else:
            episodes.append([ev])
    return episodes


@dataclass
class UpsertResult:
    created: list[Alert]
    updated: list[Alert]


def alerts_upsert(hits: list[Hit]) -> UpsertResult:
    """Turn hits into alerts: one per rule, subject and episode.

    An episode continues an alert of the same rule and key whose last event
    lies within the correlation window before it; otherwise it opens a new
    alert keyed by its first event's time, so a repeated run lands on the
    same row (unique constraint) and links no event twice.
    """
    gap = correlation_window()
    created: dict[int, Alert] = {}
    updated: dict[int, Alert] = {}
    now = timezone.now()
    with transaction.atomic():
        dbvendor.lock_for_transaction("detection:alerts")
        for hit in hits:
            for episode in _episodes(hit.events, gap):
                first, last = episode[0].at, episode[-1].at
                alert = (
                    Alert.objects.filter(
                        rule=hit.rule,
                        key=hit.key,
                        first_event_at__lte=last,
                        last_event_at__gte=first - gap,
                    )
                    .order_by("-last_event_at")
                    .first()
                )
                if alert is None:
                    alert = Alert.objects.create(
                        rule=hit.rule,
                        key=hit.key[:200],
                        title=hit.title[:200],
                        severity=hit.severity,
                        source_ip=hit.source_ip,
                        subject_user_id=hit.subject_user_id,
                        subject_label=hit.subject_label[:200],
                        first_event_at=first,
                        last_event_at=last,
                        summary=hit.summary,
                        created_at=now,
                        updated_at=now,
                    )
                    created[alert.pk] = alert
                else:
                    if SEVERITY_RANK[hit.severity] > SEVERITY_RANK[alert.severity]:
                        alert.severity = hit.severity
                    alert.first_event_at = min(alert.first_event_at, first)
                    alert.last_event_at = max(alert.last_event_at, last)
                    alert.summary = {**alert.summary, **hit.summary}
                    alert.subject_user_id = alert.subject_user_id or hit.subject_user_id
                    alert.source_ip = alert.source_ip or hit.source_ip
                    alert.updated_at = now
                    if alert.pk not in created:
                        updated[alert.pk] = alert
                AlertEvent.objects.bulk_create(
                    [AlertEvent(alert=alert, event_id=ev.id, occurred_at=ev.at) for ev in episode],
                    ignore_conflicts=True,
                    batch_size=2000,
                )
                alert.max_risk = max(alert.max_risk, max(ev.risk for ev in episode))
                alert.save()
        touched = list(created.values()) + list(updated.values())
        if touched:
            stats = (
                AlertEvent.objects.filter(alert__in=[alert.pk for alert in touched])
                .values("alert")
                .annotate(n=Count("id"), first=Min("occurred_at"), last=Max("occurred_at"))
            )
            by_alert = {row["alert"]: row for row in stats}
            for alert in touched:
                row = by_alert[alert.pk]
                alert.event_count = row["n"]
                Alert.objects.filter(pk=alert.pk).update(event_count=row["n"])
    if created:
        # Open executive dashboards show new alerts without a reload.
        from compliance.dashboard.services import dashboard_alerts_raised

        transaction.on_commit(dashboard_alerts_raised)
    for alert in created.values():
        logger.info(
            "alert.raised",
            extra={"alert_id": alert.pk, "rule": alert.rule, "severity": alert.severity},
        )
    return UpsertResult(list(created.values()), list(updated.values()))


_TRANSITIONS: dict[str, set[str]] = {
    Alert.Status.OPEN: {
        Alert.Status.ACKNOWLEDGED,
        Alert.Status.RESOLVED,
        Alert.Status.FALSE_POSITIVE,
    },
    Alert.Status.ACKNOWLEDGED: {Alert.Status.RESOLVED, Alert.Status.FALSE_POSITIVE},
    Alert.Status.RESOLVED: {Alert.Status.OPEN},
    Alert.Status.FALSE_POSITIVE: {Alert.Status.OPEN},
}


@transaction.atomic
def alert_status_change(
    *, alert: Alert, status: str, by: User, note: str = "", owner: User | None = None
) -> Alert:
    """Move an alert to ``status``; every change is a security event."""
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if status not in _TRANSITIONS.get(alert.status, set()):
        raise ServiceError(
            f"An alert that is {alert.status} cannot become {status}.",
            code="invalid_transition",
            status_code=409,
        )
    now = timezone.now()
    previous = alert.status
    alert.status = status
    alert.updated_at = now
    if owner is not None or alert.owner_id is None:
        alert.owner = owner or by
    if status == Alert.Status.ACKNOWLEDGED:
        alert.acknowledged_at = now
    elif status in (Alert.Status.RESOLVED, Alert.Status.FALSE_POSITIVE):
        alert.resolved_at = now
        alert.resolution_note = note
    else:
        alert.resolved_at = None
    alert.save()
    # Open dashboards drop a resolved alert (or show a reopened one) without
    # a reload; the cached page is dropped with it.
    from compliance.dashboard.services import dashboard_alerts_changed

    transaction.on_commit(dashboard_alerts_changed)
    security_event_record(
        event_type=types.ALERT_STATUS_CHANGED,
        actor=by,
        detail={
            "object": "alert",
            "alert": str(alert.public_id),
            "from": previous,
            "to": status,
        },
    )
    return alert


def false_positive_rates() -> dict[str, dict[str, float | int]]:
    """Per rule: alerts closed, of which false positives, and their share."""
    closed = Q(status__in=[Alert.Status.RESOLVED, Alert.Status.FALSE_POSITIVE])
    rows = (
        Alert.objects.values("rule")
        .annotate(
            total=Count("id"),
            closed=Count("id", filter=closed),
            false_positive=Count("id", filter=Q(status=Alert.Status.FALSE_POSITIVE)),
        )
        .order_by("rule")
    )
    return {
        row["rule"]: {
            "total": row["total"],
            "closed": row["closed"],
            "false_positive": row["false_positive"],
            "rate": round(row["false_positive"] / row["closed"], 3) if row["closed"] else 0.0,
        }
        for row in rows
    }
