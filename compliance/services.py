"""Writes of the compliance engine."""

from __future__ import annotations

import logging
import socket

from django.utils import timezone

from compliance.models import JobRun

logger = logging.getLogger(__name__)


def heartbeat_record(*, worker: str | None = None) -> JobRun:
    """Record that a worker is alive and executing tasks."""
    now = timezone.now()
    run = JobRun.objects.create(
        job="heartbeat",
        status=JobRun.Status.DONE,
        worker=worker or socket.gethostname(),
        started_at=now,
        finished_at=now,
    )
    logger.info("heartbeat.recorded", extra={"job_run_id": run.pk})
    return run
