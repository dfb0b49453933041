"""The detection job as the operations page sees it: one JobRun a run."""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone

from audit.detection.engine import detection_run
from compliance.models import JobRun

logger = logging.getLogger(__name__)

JOB = "audit.detection_run"


def detection_job_run(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Run detection and stamp a JobRun with what it did.

    The window is "every event after the cursor" (see ``detection_run``), so
    the JobRun carries no slot: a missed run is caught up by the next, and a
    repeated run finds nothing new.
    """
    run = JobRun.objects.create(
        job=JOB, status=JobRun.Status.RUNNING, started_at=now or timezone.now()
    )
    try:
        counts = detection_run()
    except Exception as exc:
        JobRun.objects.filter(pk=run.pk).update(
            status=JobRun.Status.FAILED, finished_at=timezone.now(), error=type(exc).__name__
        )
        logger.exception("detection.job_failed", extra={"job_run_id": run.pk})
        raise
    JobRun.objects.filter(pk=run.pk).update(
        status=JobRun.Status.DONE, finished_at=timezone.now(), counts=counts
    )
    return counts
