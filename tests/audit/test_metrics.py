"""Security events are counted by type and severity for Prometheus."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY

from audit.models import SecurityEvent
from audit.services import security_event_record

pytestmark = pytest.mark.django_db


def _count(event_type: str, severity: str) -> float:
    value = REGISTRY.get_sample_value(
        "cloudexpress_security_events_total", {"event_type": event_type, "severity": severity}
    )
    return value or 0.0


def test_each_committed_event_is_counted_by_type_and_severity(
    django_capture_on_commit_callbacks: Any,
) -> None:
    locked = _count("auth.locked_out", "high")
    failed = _count("auth.sign_in_failed", "low")

    with django_capture_on_commit_callbacks(execute=True):
        security_event_record(event_type=SecurityEvent.Type.LOCKED_OUT)
        security_event_record(event_type=SecurityEvent.Type.SIGN_IN_FAILED)
        security_event_record(event_type=SecurityEvent.Type.SIGN_IN_FAILED)

    assert _count("auth.locked_out", "high") == locked + 1
    assert _count("auth.sign_in_failed", "low") == failed + 2


def test_an_event_rolled_back_is_not_counted(django_capture_on_commit_callbacks: Any) -> None:
    before = _count("access.throttled", "low")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        security_event_record(event_type=SecurityEvent.Type.THROTTLED)
    assert len(callbacks) == 1  # waits for the commit
    assert _count("access.throttled", "low") == before


def test_the_counter_is_exported_on_metrics(client: Any, settings: Any) -> None:
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    body = client.get("/metrics").content.decode()
    assert "# TYPE cloudexpress_security_events_total counter" in body
