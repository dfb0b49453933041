"""Celery entry points of the governance registers."""

from __future__ import annotations

from celery import shared_task

from cloudexpress import requestcontext
from compliance.governance import services


@shared_task(
    name="compliance.governance_reminders",
    soft_time_limit=240,
    time_limit=300,
    max_retries=2,
    acks_late=True,
)
def governance_reminders_task() -> dict[str, int]:
    """Assign due training, then mail every due-date reminder once."""
    with requestcontext.system_job("celery:governance_reminders"):
        return services.governance_reminders_run().counts
