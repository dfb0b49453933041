"""The Celery app: defaults every task inherits, the beat schedule in one place."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloudexpress.settings")

app = Celery("cloudexpress")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    # Tasks are idempotent, so a task is acknowledged only once it finished
    # and requeued when its worker dies mid-way.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_soft_time_limit=540,
    task_time_limit=600,
    task_default_retry_delay=30,
    task_annotations={"*": {"max_retries": 3}},
    task_track_started=True,
    result_expires=24 * 3600,
    broker_connection_retry_on_startup=True,
    timezone="UTC",
    enable_utc=True,
    worker_hijack_root_logger=False,
    # One beat sends the schedule; a second one stands by (cloudexpress/beat.py).
    beat_scheduler="cloudexpress.beat:LockedScheduler",
)
app.autodiscover_tasks()

# Job-run records for the periodic tasks that keep none of their own.
from cloudexpress import jobruns  # noqa: E402, F401


def _beat_schedule() -> dict[str, dict[str, object]]:
    from cloudexpress.beat import BEAT_SCHEDULE

    return BEAT_SCHEDULE


app.conf.beat_schedule = _beat_schedule()
