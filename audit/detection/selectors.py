"""Reads of detection data, shared by pages, the API and tasks."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from audit.detection import types
from audit.models import Alert, AlertEvent, ContainmentAction, SecurityEvent


def alerts_active(*, rule: str = "", severity: str = "", status: str = "") -> QuerySet[Alert]:
    queryset = Alert.objects.select_related("owner", "subject_user", "incident")
    if status:
        queryset = queryset.filter(status=status)
    else:
        queryset = queryset.filter(status__in=Alert.ACTIVE)
    if rule:
        queryset = queryset.filter(rule=rule)
    if severity:
        queryset = queryset.filter(severity=severity)
    return queryset.order_by("-last_event_at", "-id")


def alert_events(alert: Alert, *, limit: int = 200) -> list[SecurityEvent]:
    """The alert's events, newest first, with their scores and explanations."""
    ids = list(
        AlertEvent.objects.filter(alert=alert)
        .order_by("-occurred_at", "-event_id")
        .values_list("event_id", flat=True)[:limit]
    )
    events = list(SecurityEvent.objects.filter(pk__in=ids).order_by("-occurred_at", "-id"))
    for event in events:
        event.type_label = types.type_label(event.event_type)  # type: ignore[attr-defined]
        event.explained = explain(event.risk_factors)  # type: ignore[attr-defined]
    return events


def explain(factors: dict[str, Any] | None) -> dict[str, Any]:
    """What the page shows of a score: its parts and the features that made it high."""
    factors = factors or {}
    features = factors.get("features") or []
    high = set(factors.get("high") or [])
    return {
        "base": factors.get("base", 0),
        "anomaly": factors.get("anomaly", 0),
        "threat": factors.get("threat", 0),
        "threat_source": (factors.get("threat_intel") or {}).get("source", ""),
        "history": factors.get("history"),
        "new_network": bool(factors.get("new_network")),
        "new_country": bool(factors.get("new_country")),
        "features": [{**feature, "high": feature.get("feature") in high} for feature in features],
    }


def alert_containment(alert: Alert) -> list[ContainmentAction]:
    return list(alert.containment.select_related("user", "reversed_by", "blocked_address"))
