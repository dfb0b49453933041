"""Prometheus gauges read from the database at scrape time.

Workers and web processes share no metric memory, so alert and incident
figures are computed by a collector from the tables themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.db import DatabaseError
from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

logger = logging.getLogger(__name__)


def _families() -> tuple[GaugeMetricFamily, ...]:
    return (
        GaugeMetricFamily(
            "cloudexpress_security_alerts",
            "Security alerts by rule, severity and status.",
            labels=["rule", "severity", "status"],
        ),
        GaugeMetricFamily(
            "cloudexpress_security_alert_false_positive_ratio",
            "Share of a rule's closed alerts (resolved or false positive) that were false "
            "positives.",
            labels=["rule"],
        ),
        GaugeMetricFamily("cloudexpress_incidents_open", "Incidents not yet closed."),
        GaugeMetricFamily(
            "cloudexpress_incident_mttr_seconds",
            "Mean time from detection to recovery of incidents resolved in the last 90 days.",
        ),
        GaugeMetricFamily(
            "cloudexpress_incident_mttd_seconds",
            "Mean time from first malicious event to detection, last 90 days.",
        ),
    )


class DetectionCollector(Collector):
    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Describing without values keeps registration from querying the
        # database while apps are still loading.
        yield from _families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        import datetime as dt

        from django.utils import timezone

        from audit.models import Alert, Incident

        alerts, false_positives, open_incidents, mttr, mttd = _families()
        closed: dict[str, list[int]] = {}
        try:
            rows = Alert.objects.values("rule", "severity", "status").annotate(n=Count("id"))
            for row in rows.order_by():
                alerts.add_metric([row["rule"], row["severity"], row["status"]], row["n"])
                if row["status"] in (Alert.Status.RESOLVED, Alert.Status.FALSE_POSITIVE):
                    counts = closed.setdefault(row["rule"], [0, 0])
                    counts[0] += row["n"]
                    if row["status"] == Alert.Status.FALSE_POSITIVE:
                        counts[1] += row["n"]
            open_incidents.add_metric(
                [], Incident.objects.filter(status=Incident.Status.OPEN).count()
            )
            since = timezone.now() - dt.timedelta(days=90)
            recent = list(
                Incident.objects.filter(detected_at__gte=since).values_list(
                    "started_at", "detected_at", "resolved_at"
                )
            )
        except DatabaseError:
            logger.warning("metrics.detection_unavailable")
            return
        resolved = [(r - d).total_seconds() for _, d, r in recent if r is not None]
        detected = [(d - s).total_seconds() for s, d, _ in recent]
        mttr.add_metric([], sum(resolved) / len(resolved) if resolved else 0.0)
        mttd.add_metric([], sum(detected) / len(detected) if detected else 0.0)
        # The same figure as alerts.false_positive_rates, from the rows above.
        for rule, (total, false) in sorted(closed.items()):
            false_positives.add_metric([rule], false / total)
        yield alerts
        yield false_positives
        yield open_incidents
        yield mttr
        yield mttd


_registered: list[DetectionCollector] = []


def collector_register() -> None:
    if not _registered:
        collector = DetectionCollector()
        REGISTRY.register(collector)
        _registered.append(collector)
