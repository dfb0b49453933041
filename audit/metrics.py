"""Prometheus counters of the audit app, exported on /metrics."""

from __future__ import annotations

from prometheus_client import Counter

SECURITY_EVENTS = Counter(
    "cloudexpress_security_events",
    "Security events recorded, by type and severity.",
    ["event_type", "severity"],
)


def security_event_counted(event_type: str, severity: str) -> None:
    SECURITY_EVENTS.labels(event_type=event_type, severity=severity).inc()
