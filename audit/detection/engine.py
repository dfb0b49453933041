"""The detection run: score new events, run every rule, raise alerts.

A run reads events after its cursor (by id) in batches, so a missed run
catches up and a repeated run finds nothing new; alerts are idempotent on
top of that (see ``alerts_upsert``). One run at a time: a second run that
finds the lock held returns at once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from typing import Any

from django.db import transaction
from django.db.models import F
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone

from audit.detection import alerts as alert_services
from audit.detection import types
from audit.detection.rules import Ev, Hit, Rule, enabled_rules
from audit.detection.scoring import Attempt, RiskScorer
from audit.models import Alert, DetectionCursor, SecurityEvent
from cloudexpress import dbvendor

logger = logging.getLogger(__name__)

CURSOR = "detection"
_RUN_LOCK = "detection:run"


def _geo(name: str) -> KeyTextTransform:
    return KeyTextTransform(name, KeyTextTransform("geo", "detail"))


_ANNOTATIONS: dict[str, Any] = {
    "d_username": KeyTextTransform("username", "detail"),
    "d_key_id": KeyTextTransform("key_id", "detail"),
    "d_country": KeyTextTransform("country", "detail"),
    "d_lat": _geo("lat"),
    "d_lon": _geo("lon"),
    "d_rows": KeyTextTransform("rows", "detail"),
    "d_repeat": KeyTextTransform("repeat", "detail"),
    "f_new_network": KeyTextTransform("new_network", "risk_factors"),
    "f_new_country": KeyTextTransform("new_country", "risk_factors"),
    "f_threat": KeyTextTransform("threat", "risk_factors"),
}
_COLUMNS = ("id", "occurred_at", "event_type", "ip", "actor_id", "target_user_id", "risk_score")


def _number(value: Any, default: float | None = None) -> float | None:
    if value in (None, ""):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _truthy(value: Any) -> bool:
    return value in (True, "true", "True", "1", 1)


def _ev(row: dict[str, Any], is_new: bool) -> Ev:
    return Ev(
        id=row["id"],
        at=row["occurred_at"],
        type=row["event_type"],
        ip=row["ip"],
        actor_id=row["actor_id"],
        target_user_id=row["target_user_id"],
        username=row["d_username"],
        key_id=row["d_key_id"],
        country=row["d_country"],
        lat=_number(row["d_lat"]),
        lon=_number(row["d_lon"]),
        rows=int(_number(row["d_rows"], 0) or 0),
        repeat=max(1, int(_number(row["d_repeat"], 1) or 1)),
        new_network=_truthy(row["f_new_network"]),
        new_country=_truthy(row["f_new_country"]),
        threat=(_number(row["f_threat"], 0) or 0) > 0,
        risk=row["risk_score"] or 0,
        is_new=is_new,
    )


def _rows(queryset: Any) -> list[dict[str, Any]]:
    return list(queryset.annotate(**_ANNOTATIONS).values(*_COLUMNS, *_ANNOTATIONS))


def events_score(event_ids: list[int]) -> list[tuple[int, int]]:
    """Score stored events that have no score yet; return (user, event) pairs
    to tell about a sign-in from a new network."""
    rows = list(
        SecurityEvent.objects.filter(pk__in=event_ids, risk_score=None)
        .order_by("occurred_at", "id")
        .values(
            "id",
            "event_type",
            "severity",
            "occurred_at",
            "ip",
            "user_agent",
            "actor_id",
            "target_user_id",
            "detail",
        )
    )
    if not rows:
        return []
    attempts = [
        Attempt(
            event_type=row["event_type"],
            severity=row["severity"],
            occurred_at=row["occurred_at"],
            ip=row["ip"],
            user_agent=row["user_agent"],
            actor_id=row["actor_id"],
            target_user_id=row["target_user_id"],
            detail=row["detail"] if isinstance(row["detail"], dict) else {},
        )
        for row in rows
    ]
    scorer = RiskScorer(attempts)
    updates: list[SecurityEvent] = []
    notify: list[tuple[int, int]] = []
    for row, attempt in zip(rows, attempts, strict=True):
        scored = scorer.score(attempt)
        updates.append(
            SecurityEvent(pk=row["id"], risk_score=scored.score, risk_factors=scored.factors)
        )
        if scored.notify_user_id:
            notify.append((scored.notify_user_id, row["id"]))
    with transaction.atomic():
        # Only the two columns beside the hashed content change; bulk_update
        # issues UPDATEs and never calls the append-only save().
        SecurityEvent.objects.bulk_update(updates, ["risk_score", "risk_factors"], batch_size=500)
        scorer.flush()
    return notify


def _context(rule: Rule, new: list[Ev], after_id: int) -> list[Ev]:
    lookback = rule.lookback
    if lookback <= dt.timedelta(0) or not new:
        return []
    start = min(ev.at for ev in new) - lookback
    end = max(ev.at for ev in new)
    queryset = SecurityEvent.objects.filter(
        id__lte=after_id,
        event_type__in=rule.reads,
        occurred_at__gte=start,
        occurred_at__lte=end,
    ).order_by()
    return [_ev(row, is_new=False) for row in _rows(queryset)]


def rules_evaluate(new: list[Ev], after_id: int) -> list[Hit]:
    """Run every enabled rule over new events and their context."""
    hits: list[Hit] = []
    for rule in enabled_rules():
        mine = [ev for ev in new if ev.type in rule.reads]
        if not mine:
            continue
        events = _context(rule, mine, after_id) + mine
        events.sort(key=lambda ev: (ev.at, ev.id))
        hits.extend(rule.evaluate(events, rule.config))
    return hits


def detection_run(*, batch_size: int = 20_000, max_batches: int | None = None) -> dict[str, int]:
    """Process every event after the cursor; return what was done."""
    counts: dict[str, int] = defaultdict(int)
    if not dbvendor.try_lock_for_session(_RUN_LOCK):
        counts["skipped_locked"] = 1
        return dict(counts)
    try:
        cursor, _ = DetectionCursor.objects.get_or_create(name=CURSOR)
        batches = 0
        while max_batches is None or batches < max_batches:
            new_rows = _rows(
                SecurityEvent.objects.filter(id__gt=cursor.last_event_id).order_by("id")[
                    :batch_size
                ]
            )
            if not new_rows:
                break
            batches += 1
            ids = [row["id"] for row in new_rows]
            unscored = [row["id"] for row in new_rows if row["risk_score"] is None]
            notify: list[tuple[int, int]] = []
            if unscored:
                notify = events_score(unscored)
                counts["scored"] += len(unscored)
                new_rows = _rows(SecurityEvent.objects.filter(id__in=ids).order_by("id"))
            new = [_ev(row, is_new=True) for row in new_rows]
            hits = rules_evaluate(new, cursor.last_event_id)
            with transaction.atomic():
                result = alert_services.alerts_upsert(hits)
                DetectionCursor.objects.filter(pk=cursor.pk).update(
                    last_event_id=ids[-1],
                    last_occurred_at=new[-1].at,
                    runs=F("runs") + 1,
                    updated_at=timezone.now(),
                )
            cursor.last_event_id = ids[-1]
            counts["events"] += len(ids)
            counts["alerts_created"] += len(result.created)
            counts["alerts_updated"] += len(result.updated)
            _after_alerts(result)
            _after_events(notify)
        counts["batches"] = batches
    finally:
        dbvendor.unlock_session(_RUN_LOCK)
    if counts["events"]:
        logger.info("detection.run_finished", extra=dict(counts))
    return dict(counts)


def _after_alerts(result: alert_services.UpsertResult) -> None:
    from audit.detection import containment, notifications

    # An updated alert may have become critical (a burst followed by a
    # success), so both lists are considered for containment.
    for alert in result.created + result.updated:
        if alert.severity == Alert.Severity.CRITICAL and alert.contained_at is None:
            containment.alert_contain(alert=alert)
    notifications.alerts_notify(alerts=result.created)


def _after_events(notify: list[tuple[int, int]]) -> None:
    from audit.detection import notifications

    for user_id, event_id in notify:
        notifications.account_security_notify(
            user=user_id, event_kind="new_network_sign_in", event_id=event_id
        )


def types_read() -> frozenset[str]:
    return frozenset().union(*(rule.reads for rule in enabled_rules()))


__all__ = ["detection_run", "events_score", "rules_evaluate", "types"]
