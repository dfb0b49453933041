"""Celery entry points of the compliance engine: take ids, call one service."""

from __future__ import annotations

import logging
import socket

from celery import shared_task
from django.db import IntegrityError, transaction
from django.utils import timezone

from cloudexpress import requestcontext
from compliance import services
from compliance.models import JobRun

logger = logging.getLogger(__name__)

RUN_CHECKS_JOB = "compliance.run_checks"


@shared_task(name="compliance.heartbeat", soft_time_limit=30, time_limit=60, max_retries=0)
def heartbeat_task() -> int:
    with requestcontext.system_job("celery:heartbeat"):
        return services.heartbeat_record().pk


@shared_task(name="compliance.echo", soft_time_limit=10, time_limit=20, max_retries=0)
def echo_task(value: str) -> str:
    """Return its argument; the smallest round trip through broker and worker."""
    return value


def _claim_day(slot: str) -> JobRun | None:
    """Claim today's slot; None when a run already finished or holds it."""
    now = timezone.now()
    try:
        with transaction.atomic():
            return JobRun.objects.create(
                job=RUN_CHECKS_JOB,
                slot=slot,
                status=JobRun.Status.RUNNING,
                worker=socket.gethostname(),
                started_at=now,
            )
    except IntegrityError:
        pass
    # A failed run of the slot may be retried; a done or running one not.
    claimed = JobRun.objects.filter(
        job=RUN_CHECKS_JOB, slot=slot, status=JobRun.Status.FAILED
    ).update(status=JobRun.Status.RUNNING, started_at=now, error="", finished_at=None)
    if claimed:
        return JobRun.objects.get(job=RUN_CHECKS_JOB, slot=slot)
    return None


@shared_task(
    name="compliance.run_checks",
    soft_time_limit=900,
    time_limit=1200,
    max_retries=2,
    acks_late=True,
)
def run_checks_task() -> int | None:
    """Run every check once per day: beat calls it hourly, so a missed day
    catches up and a repeated call does nothing."""
    from compliance.runs import RunInProgress, checks_run

    slot = timezone.localdate().isoformat()
    job = _claim_day(slot)
    if job is None:
        return None
    with requestcontext.system_job("celery:run_checks"):
        try:
            run = checks_run(trigger="beat")
        except RunInProgress:
            # Someone else is running the checks right now; give the slot
            # back so the next beat tick tries again.
            JobRun.objects.filter(pk=job.pk).delete()
            return None
        except Exception as exc:
            JobRun.objects.filter(pk=job.pk).update(
                status=JobRun.Status.FAILED, finished_at=timezone.now(), error=str(exc)[:2000]
            )
            raise
    JobRun.objects.filter(pk=job.pk).update(
        status=JobRun.Status.DONE,
        finished_at=timezone.now(),
        counts={"run_id": run.pk, "checks": run.checks_total, "score": run.score},
    )
    logger.info("compliance.daily_run_done", extra={"run_id": run.pk, "slot": slot})
    return run.pk


# Registered here so the worker's autodiscovery of compliance.tasks finds it.
from compliance.reports.tasks import report_pack_build_task  # noqa: E402, F401
