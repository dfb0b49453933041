"""Helpers shared by the detection tests: record events, run detection."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from audit.detection.engine import detection_run
from audit.models import Alert, SecurityEvent
from audit.services import security_event_record

BASE = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def at(minutes: float = 0) -> dt.datetime:
    return BASE + dt.timedelta(minutes=minutes)


def record(event_type: str, when: dt.datetime | None = None, **kwargs: Any) -> SecurityEvent:
    return security_event_record(
        event_type=event_type, occurred_at=when or timezone.now(), **kwargs
    )


def run() -> dict[str, int]:
    return detection_run()


def alerts(rule: str) -> list[Alert]:
    return list(Alert.objects.filter(rule=rule).order_by("id"))
