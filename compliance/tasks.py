"""Celery entry points of the compliance engine: take ids, call one service."""

from __future__ import annotations

import logging
import socket

from celery import shared_task
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from cloudexpress import dbvendor, requestcontext
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
    """Claim today's slot; None when a run already finished it.

    The caller holds the compliance run's session lock, and every runner
    holds it while it runs, so a slot still marked running belongs to a
    runner that died (a killed worker): it is taken over, and the broker's
    redelivery of the killed task finishes the day's run.
    """
    from compliance.runs import STALE_AFTER

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
    retryable = JobRun.objects.filter(job=RUN_CHECKS_JOB, slot=slot).filter(
        Q(status=JobRun.Status.FAILED) | Q(status=JobRun.Status.RUNNING)
    )
    if not dbvendor.is_postgresql():
        # SQLite has no lock to prove the running row's owner is gone.
        retryable = retryable.exclude(
            status=JobRun.Status.RUNNING, started_at__gte=now - STALE_AFTER
        )
    claimed = retryable.update(
        status=JobRun.Status.RUNNING,
        started_at=now,
        worker=socket.gethostname(),
        error="",
        finished_at=None,
    )
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
    from compliance.runs import LOCK_NAME, RunInProgress, checks_run

    slot = timezone.localdate().isoformat()
    # The run's own lock, taken before the slot is claimed: a second task
    # (or a manual run) in progress leaves the slot alone. PostgreSQL's
    # session locks nest, so checks_run takes it again inside.
    if not dbvendor.try_lock_for_session(LOCK_NAME):
        return None
    try:
        job = _claim_day(slot)
        if job is None:
            return None
        with requestcontext.system_job("celery:run_checks"):
            try:
                run = checks_run(trigger="beat")
            except RunInProgress:
                # Only on SQLite, where the lock above is no lock: give the
                # slot back so the next beat tick tries again.
                JobRun.objects.filter(pk=job.pk).delete()
                return None
            except Exception as exc:
                JobRun.objects.filter(pk=job.pk).update(
                    status=JobRun.Status.FAILED,
                    finished_at=timezone.now(),
                    error=str(exc)[:2000],
                )
                raise
    finally:
        dbvendor.unlock_session(LOCK_NAME)
    JobRun.objects.filter(pk=job.pk).update(
        status=JobRun.Status.DONE,
        finished_at=timezone.now(),
        counts={"run_id": run.pk, "checks": run.checks_total, "score": run.score},
    )
    logger.info("compliance.daily_run_done", extra={"run_id": run.pk, "slot": slot})
    return run.pk


# Registered here so the worker's autodiscovery of compliance.tasks finds it.
from compliance.dashboard.tasks import monthly_pack_task  # noqa: E402, F401
from compliance.reports.tasks import report_pack_build_task  # noqa: E402, F401
