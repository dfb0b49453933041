"""What the operations page shows, prepared in a constant number of queries:
background job runs, the next scheduled beat jobs, queue depth and the
capacity figures beside the thresholds they are held to."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery.schedules import crontab, schedule
from django.conf import settings
from django.db.models import Count, Max, Q
from django.utils import timezone

from cloudexpress import dbvendor

logger = logging.getLogger(__name__)

RECENT_RUNS = 50
OUTCOME_WINDOW = timedelta(hours=24)
# The histogram django-prometheus fills for every request of this process.
LATENCY_METRIC = "django_http_requests_latency_including_middlewares_seconds"
RESPONSES_METRIC = "django_http_responses_total_by_status"
# The heartbeat is no compliance job (compliance/policy.py), but records runs.
HEARTBEAT_KEY = {"compliance.heartbeat": "heartbeat"}


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    task: str
    cadence: str
    next_at: datetime | None
    last_done_at: datetime | None


@dataclass(frozen=True)
class Capacity:
    name: str
    value: float | None
    unit: str
    limit: float
    ok: bool | None
    note: str = ""


def _interval_seconds(entry_schedule: Any) -> float:
    if isinstance(entry_schedule, schedule):
        return float(entry_schedule.run_every.total_seconds())
    return float(entry_schedule)


def _cadence(entry_schedule: Any) -> str:
    if isinstance(entry_schedule, crontab):
        return f"cron {entry_schedule._orig_minute} {entry_schedule._orig_hour} (UTC)"
    seconds = _interval_seconds(entry_schedule)
    if seconds >= 3600:
        return f"every {seconds / 3600:g} h"
    if seconds >= 60:
        return f"every {seconds / 60:g} min"
    return f"every {seconds:g} s"


def _next_at(entry_schedule: Any, last_started: datetime | None, now: datetime) -> datetime | None:
    """The next time beat sends the job: a crontab's next slot, or an
    interval after the job's last recorded start (unknown without one)."""
    if isinstance(entry_schedule, crontab):
        # Crontab slots fall on whole minutes; the estimate is a hair short.
        upcoming = now + entry_schedule.remaining_estimate(now) + timedelta(seconds=30)
        return upcoming.replace(second=0, microsecond=0)
    if last_started is None:
        return None
    return max(last_started + timedelta(seconds=_interval_seconds(entry_schedule)), now)


def job_runs_recent(limit: int = RECENT_RUNS) -> list[Any]:
    """The newest job runs, one query."""
    from compliance.models import JobRun

    return list(
        JobRun.objects.only(
            "job", "slot", "status", "worker", "started_at", "finished_at", "counts", "error"
        ).order_by("-started_at", "-pk")[:limit]
    )


def job_outcomes(now: datetime) -> dict[str, int]:
    """Runs per status over the last day, one query."""
    from compliance.models import JobRun

    since = now - OUTCOME_WINDOW
    statuses = [choice for choice, _ in JobRun.Status.choices]
    totals = JobRun.objects.filter(started_at__gte=since).aggregate(
        **{status: Count("pk", filter=Q(status=status)) for status in statuses}
    )
    return {status: int(totals[status] or 0) for status in statuses}


def job_last_times() -> dict[str, dict[str, datetime | None]]:
    """Per job key: last start and last successful finish, one query."""
    from compliance.models import JobRun

    rows = JobRun.objects.values("job").annotate(
        last_started=Max("started_at"),
        last_done=Max("finished_at", filter=Q(status=JobRun.Status.DONE)),
    )
    return {row["job"]: {"started": row["last_started"], "done": row["last_done"]} for row in rows}


def scheduled_jobs(
    last_times: dict[str, dict[str, datetime | None]], now: datetime
) -> list[ScheduledJob]:
    """Every beat entry with its cadence and next run, soonest first; no query."""
    from cloudexpress.beat import BEAT_SCHEDULE
    from compliance.policy import RECURRING_JOBS

    # Beat names tasks; job runs are stamped with the job's own key.
    key_for_task = {job.task: job.key for job in RECURRING_JOBS} | HEARTBEAT_KEY
    jobs = []
    for name, entry in BEAT_SCHEDULE.items():
        task = str(entry["task"])
        times = last_times.get(key_for_task.get(task, task), {})
        jobs.append(
            ScheduledJob(
                name=name,
                task=task,
                cadence=_cadence(entry["schedule"]),
                next_at=_next_at(entry["schedule"], times.get("started"), now),
                last_done_at=times.get("done"),
            )
        )
    far = now + timedelta(days=3650)
    return sorted(jobs, key=lambda job: (job.next_at or far, job.name))


def _latency_and_errors() -> tuple[float | None, float | None, int]:
    """p95 latency (from histogram buckets) and 5xx share of this process."""
    from django_prometheus.middleware import Metrics

    # Only django-prometheus's own two metrics: the whole registry would run
    # the capacity collector (and its queries) as well.
    metrics = Metrics.get_instance()
    buckets: dict[float, float] = {}
    responses = errors = 0.0
    for family in [
        *metrics.requests_latency_before.collect(),
        *metrics.responses_by_status.collect(),
    ]:
        if family.name == LATENCY_METRIC:
            for sample in family.samples:
                if sample.name.endswith("_bucket"):
                    bound = float(sample.labels["le"])
                    buckets[bound] = buckets.get(bound, 0.0) + sample.value
        elif family.name == RESPONSES_METRIC:
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    responses += sample.value
                    if str(sample.labels.get("status", "")).startswith("5"):
                        errors += sample.value
    total = buckets.get(float("inf"), 0.0)
    if not total:
        return None, None, 0
    p95 = None
    for bound in sorted(buckets):
        if buckets[bound] >= 0.95 * total:
            p95 = bound
            break
    error_rate = errors / responses if responses else None
    return p95, error_rate, int(total)


def capacity_figures() -> list[Capacity]:
    """Queue depth, database size, latency and errors beside their limits."""
    from cloudexpress.metrics import queue_depth
    from compliance.policy import threshold

    limits = settings.CAPACITY_THRESHOLDS
    figures = []

    depth: float | None
    try:
        depth = float(queue_depth())
    except Exception:
        logger.warning("operations.queue_depth_unavailable", exc_info=True)
        depth = None
    figures.append(
        Capacity(
            "Queue depth",
            depth,
            "messages",
            limits["queue_depth_max"],
            None if depth is None else depth <= limits["queue_depth_max"],
            "" if depth is not None else "the broker did not answer",
        )
    )

    size = float(dbvendor.database_size_bytes())
    size_limit = float(threshold("database_max_bytes"))
    figures.append(Capacity("Database size", size, "bytes", size_limit, size <= size_limit))

    p95, error_rate, requests = _latency_and_errors()
    note = f"this web process, {requests} requests since it started"
    p95_limit = limits["request_p95_seconds_max"]
    figures.append(
        Capacity(
            "Request latency p95",
            p95,
            "s",
            p95_limit,
            None if p95 is None else p95 <= p95_limit,
            note,
        )
    )
    rate_limit = limits["error_rate_max"]
    figures.append(
        Capacity(
            "Server error rate",
            error_rate,
            "share",
            rate_limit,
            None if error_rate is None else error_rate <= rate_limit,
            note,
        )
    )
    return figures


def operations_overview(now: datetime | None = None) -> dict[str, Any]:
    """Everything the operations page shows, in four queries."""
    now = now or timezone.now()
    last_times = job_last_times()
    return {
        "now": now,
        "runs": job_runs_recent(),
        "outcomes": job_outcomes(now),
        "schedule": scheduled_jobs(last_times, now),
        "capacity": capacity_figures(),
    }
