"""Celery entry points of the dashboard area: call one service each."""

from __future__ import annotations

from celery import shared_task

from cloudexpress import requestcontext
from compliance.dashboard import reporting


@shared_task(
    name="compliance.monthly_pack",
    acks_late=True,
    soft_time_limit=900,
    time_limit=960,
    max_retries=0,
)
def monthly_pack_task() -> str | None:
    """Send last month's pack; safe to run twice (the month's slot is claimed)."""
    with requestcontext.system_job("celery:monthly_pack"):
        pack = reporting.monthly_pack_send()
        return str(pack.public_id) if pack else None
