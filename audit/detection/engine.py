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
from operator import attrgetter
from typing import Any

from django.db import transaction
from django.db.models import F, FloatField, Func, Q
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone

from audit.detection import alerts as alert_services
from audit.detection import types
from audit.detection.rules import Ev, Hit, enabled_rules
from audit.detection.scoring import Attempt, RiskScorer
from audit.models import Alert, DetectionCursor, SecurityEvent
from cloudexpress import dbvendor

logger = logging.getLogger(__name__)

CURSOR = "detection"
_RUN_LOCK = "detection:run"


class EpochSeconds(Func):
    """A timestamp as float seconds since 1970, per backend.

    Loading a float is far cheaper than parsing a timestamp, and detection
    reads a million of them; both paths are exercised by the test suite
    (PostgreSQL) and the embedded default (SQLite).
    """

    output_field = FloatField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)::float8", **extra
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)",
            **extra,
        )


def _geo(name: str) -> KeyTextTransform:
    return KeyTextTransform(name, KeyTextTransform("geo", "detail"))


_ANNOTATIONS: dict[str, Any] = {
    "at_epoch": EpochSeconds("occurred_at"),
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
_COLUMNS = ("id", "event_type", "ip", "actor_id", "target_user_id", "risk_score")
_from_epoch = dt.datetime.fromtimestamp


def _number(value: Any, default: float | None = None) -> float | None:
    if value in (None, ""):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _truthy(value: Any) -> bool:
    return value in (True, "true", "True", "1", 1)


def _ev(row: tuple[Any, ...], is_new: bool) -> Ev:
    (
        event_id,
        event_type,
        ip,
        actor_id,
        target_user_id,
        risk_score,
        at_epoch,
        username,
        key_id,
        country,
        lat,
        lon,
        rows,
        repeat,
        new_network,
        new_country,
        threat,
    ) = row
    # Most events carry none of the optional keys: test for None before
    # converting, since this runs once per event read.
    return Ev(
        event_id,
        _from_epoch(at_epoch, dt.UTC),
        event_type,
        ip,
        actor_id,
        target_user_id,
        username,
        key_id,
        country,
        None if lat is None else _number(lat),
        None if lon is None else _number(lon),
        0 if rows is None else int(_number(rows, 0) or 0),
        1 if repeat is None else max(1, int(_number(repeat, 1) or 1)),
        new_network is not None and _truthy(new_network),
        new_country is not None and _truthy(new_country),
        threat is not None and (_number(threat, 0) or 0) > 0,
        risk_score or 0,
        is_new,
    )


def _rows(queryset: Any) -> list[tuple[Any, ...]]:
    return list(queryset.annotate(**_ANNOTATIONS).values_list(*_COLUMNS, *_ANNOTATIONS))


def events_score(event_ids: list[int]) -> list[tuple[int, str, int]]:
    """Score stored events that have no score yet; return (user, notice kind,
    event) for sign-ins from a new network or device."""
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
    notify: list[tuple[int, str, int]] = []
    for row, attempt in zip(rows, attempts, strict=True):
        scored = scorer.score(attempt)
        updates.append(
            SecurityEvent(pk=row["id"], risk_score=scored.score, risk_factors=scored.factors)
        )
        if scored.notify_user_id:
            notify.append((scored.notify_user_id, scored.notify_kind, row["id"]))
    with transaction.atomic():
        # Only the two columns beside the hashed content change; bulk_update
        # issues UPDATEs and never calls the append-only save().
        SecurityEvent.objects.bulk_update(updates, ["risk_score", "risk_factors"], batch_size=500)
        scorer.flush()
    return notify


MAX_CONTEXT_RANGES = 256
_by_time = attrgetter("at", "id")


def context_ranges(
    times: list[dt.datetime], lookback: dt.timedelta
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The stretches of time whose older events a batch's rules need.

    Each new event needs [at - lookback, at]; overlapping stretches merge, so
    a batch in time order needs one, and an imported log that jumps around
    needs a few instead of everything between its first and last line.
    """
    ranges: list[list[dt.datetime]] = []
    for at in sorted(times):
        if ranges and at - lookback <= ranges[-1][1]:
            ranges[-1][1] = at
        else:
            ranges.append([at - lookback, at])
    while len(ranges) > MAX_CONTEXT_RANGES:
        # Too many stretches for one query: bridge pairs of neighbours.
        ranges = [
            [ranges[i][0], ranges[min(i + 1, len(ranges) - 1)][1]]
            for i in range(0, len(ranges), 2)
        ]
    return [(start, end) for start, end in ranges]


def _context(
    reads: frozenset[str], lookback: dt.timedelta, new: list[Ev], after_id: int
) -> list[Ev]:
    if lookback <= dt.timedelta(0) or not new or after_id == 0:
        return []
    within = Q()
    for start, end in context_ranges([ev.at for ev in new], lookback):
        within |= Q(occurred_at__gte=start, occurred_at__lte=end)
    queryset = SecurityEvent.objects.filter(within, id__lte=after_id, event_type__in=reads)
    return [_ev(row, is_new=False) for row in _rows(queryset.order_by())]


def rules_evaluate(new: list[Ev], after_id: int) -> list[Hit]:
    """Run every enabled rule over new events and their context."""
    hits: list[Hit] = []
    by_type: dict[str, list[Ev]] = defaultdict(list)
    for ev in new:
        by_type[ev.type].append(ev)
    # Rules reading the same types over the same lookback share one query
    # and one sorted list.
    prepared: dict[tuple[frozenset[str], dt.timedelta], list[Ev]] = {}
    for rule in enabled_rules():
        key = (rule.reads, rule.lookback)
        if key not in prepared:
            mine = [ev for event_type in rule.reads for ev in by_type.get(event_type, ())]
            events = _context(rule.reads, rule.lookback, mine, after_id) + mine if mine else []
            events.sort(key=_by_time)
            prepared[key] = events
        if prepared[key]:
            hits.extend(rule.evaluate(prepared[key], rule.config))
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
            ids = [row[0] for row in new_rows]
            unscored = [row[0] for row in new_rows if row[5] is None]
            notify: list[tuple[int, str, int]] = []
            if unscored:
                notify = events_score(unscored)
                counts["scored"] += len(unscored)
                new_rows = _rows(SecurityEvent.objects.filter(id__in=ids).order_by("id"))
            new = [_ev(row, is_new=True) for row in new_rows]
            notify += account_notices(new, now=timezone.now())
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


# Changes to an account its owner is told about, and the notice for each.
ACCOUNT_NOTICES: dict[str, str] = {
    types.T.PASSWORD_CHANGED: "password_changed",
    types.T.PASSWORD_RESET: "password_changed",
    types.T.MFA_ENROLLED: "mfa_changed",
    types.T.MFA_REMOVED: "mfa_changed",
    types.T.API_KEY_CREATED: "api_key_created",
}
# A first run over an old trail must not mail years of password changes.
NOTICE_MAX_AGE = dt.timedelta(days=1)


def account_notices(events: list[Ev], *, now: dt.datetime) -> list[tuple[int, str, int]]:
    """(user, notice kind, event) for recent changes to a user's own account:
    the account an event is about (its target), or for a password change
    with no target, the user who made it. A service key has no user."""
    notices = []
    for ev in events:
        kind = ACCOUNT_NOTICES.get(ev.type)
        if kind is None or now - ev.at > NOTICE_MAX_AGE:
            continue
        user_id = ev.target_user_id
        if user_id is None and ev.type != types.T.API_KEY_CREATED:
            user_id = ev.actor_id
        if user_id is not None:
            notices.append((user_id, kind, ev.id))
    return notices


def _after_events(notify: list[tuple[int, str, int]]) -> None:
    from audit.detection import notifications

    # Each notice is keyed by its event, so a repeated run sends nothing twice.
    for user_id, kind, event_id in notify:
        notifications.account_security_notify(user=user_id, event_kind=kind, event_id=event_id)


def types_read() -> frozenset[str]:
    return frozenset().union(*(rule.reads for rule in enabled_rules()))


__all__ = ["detection_run", "events_score", "rules_evaluate", "types"]
