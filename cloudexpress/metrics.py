"""Capacity metrics computed at scrape time from shared state.

Worker processes do not share the web process's counters, so job outcomes
are read from the job-run records and queue depth from the broker, each time
Prometheus scrapes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db.models import Max
from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector

from cloudexpress import dbvendor

logger = logging.getLogger(__name__)

_registered = False
# Not "job": Prometheus gives every scraped series the scrape job's ``job``
# label and would rename ours to ``exported_job``, so alerts keyed on it
# would never match. Values are the JobRun keys ("retention", "backup").
JOB_LABEL = "background_job"


def queue_depth() -> int:
    """Messages waiting on the default Celery queue."""
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
        return sum(1 for _ in folder.glob("*.msg"))
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2)
    return int(client.llen("celery"))


class CapacityCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        from compliance.models import JobRun

        last = GaugeMetricFamily(
            "cloudexpress_job_last_success_timestamp_seconds",
            "When each background job last finished successfully.",
            labels=[JOB_LABEL],
        )
        failures = GaugeMetricFamily(
            "cloudexpress_job_last_failure_timestamp_seconds",
            "When each background job last failed.",
            labels=[JOB_LABEL],
        )
        try:
            for status, family in ((JobRun.Status.DONE, last), (JobRun.Status.FAILED, failures)):
                rows = (
                    JobRun.objects.filter(status=status)
                    .values("job")
                    .annotate(at=Max("finished_at"))
                )
                for row in rows:
                    if row["at"] is not None:
                        family.add_metric([row["job"]], row["at"].timestamp())
        except Exception:  # a scrape must not fail because one source did
            logger.warning("metrics.job_runs_unavailable", exc_info=True)
        yield last
        yield failures

        for name, help_text, probe in (
            ("cloudexpress_queue_depth", "Messages waiting on the Celery queue.", queue_depth),
            (
                "cloudexpress_database_size_bytes",
                "Size of the database.",
                dbvendor.database_size_bytes,
            ),
        ):
            try:
                value = float(probe())
            except Exception:
                logger.warning("metrics.probe_failed", extra={"metric": name}, exc_info=True)
                continue
            yield GaugeMetricFamily(name, help_text, value=value)


def register_collectors() -> None:
    global _registered
    if not _registered:
        REGISTRY.register(CapacityCollector())
        _registered = True
