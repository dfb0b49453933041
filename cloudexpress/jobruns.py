"""A job-run record for the periodic tasks that keep none of their own, so
that the operations page and the capacity metrics see every background job.

The jobs with a slot or an output of their own (the compliance run,
retention, backups, the restore test, detection, reviews, reminders, the
monthly pack, the heartbeat) stamp their JobRun themselves and are left
alone here. Recording never fails a task: a database error is logged.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from celery.signals import task_postrun, task_prerun
from django.utils import timezone

logger = logging.getLogger(__name__)

RECORDED_TASKS = frozenset(
    {
        "accounts.access_expire",
        "accounts.access_review_remind",
        "accounts.lockouts_unlock",
        "audit.anchor",
        "audit.notifications_daily",
        "compliance.privacy_inventory_review_remind",
        "compliance.usage_flush",
    }
)

# task id -> JobRun id, for the run this worker process is executing.
_running: dict[str, int] = {}


@task_prerun.connect
def job_run_start(task_id: str = "", task: Any = None, **kwargs: Any) -> None:
    if task is None or task.name not in RECORDED_TASKS:
        return
    from compliance.models import JobRun

    try:
        run = JobRun.objects.create(
            job=task.name,
            status=JobRun.Status.RUNNING,
            worker=socket.gethostname(),
            counts={"task_id": task_id},
        )
    except Exception:
        logger.warning("jobruns.start_not_recorded", extra={"task": task.name}, exc_info=True)
        return
    _running[task_id] = run.pk


@task_postrun.connect
def job_run_finish(
    task_id: str = "", task: Any = None, retval: Any = None, state: str = "", **kwargs: Any
) -> None:
    run_id = _running.pop(task_id, None)
    if run_id is None:
        return
    from compliance.models import JobRun

    done = state == "SUCCESS"
    fields: dict[str, Any] = {
        "status": JobRun.Status.DONE if done else JobRun.Status.FAILED,
        "finished_at": timezone.now(),
    }
    if done and isinstance(retval, int | float):
        fields["counts"] = {"task_id": task_id, "result": retval}
    if not done:
        # The exception's type only: its message may carry personal data.
        fields["error"] = type(retval).__name__ if isinstance(retval, BaseException) else state
    try:
        JobRun.objects.filter(pk=run_id).update(**fields)
    except Exception:
        logger.warning("jobruns.finish_not_recorded", extra={"run_id": run_id}, exc_info=True)
