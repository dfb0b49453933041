"""Celery entry points of detection: take ids, call one service."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from cloudexpress import requestcontext


@shared_task(
    name="audit.detection_run",
    acks_late=True,
    soft_time_limit=240,
    time_limit=300,
    max_retries=0,
)
def detection_run_task() -> dict[str, int]:
    """Score and run the rules over every event after the cursor."""
    from audit.detection import blocklist, jobs

    with requestcontext.system_job("celery:detection"):
        blocklist.version_ensure()
        return jobs.detection_job_run(now=timezone.now())


@shared_task(
    name="audit.notifications_daily",
    acks_late=True,
    soft_time_limit=240,
    time_limit=300,
    max_retries=0,
)
def notifications_daily_task() -> dict[str, int]:
    """Send incident reminders and remove in-app notifications past retention."""
    from audit.detection import notifications

    with requestcontext.system_job("celery:notifications"):
        return {
            "reminders": notifications.reminders_send(),
            "purged": notifications.notifications_purge(),
        }
