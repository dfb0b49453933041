"""Celery entry point of the reports: take a pack id, call one service."""

from __future__ import annotations

from celery import shared_task

from cloudexpress import requestcontext
from compliance.reports import services


@shared_task(
    name="compliance.report_pack_build",
    acks_late=True,
    soft_time_limit=900,
    time_limit=960,
    max_retries=0,
)
def report_pack_build_task(pack_pk: int) -> str | None:
    """Build one pack. Safe to run twice: the service claims the row first."""
    with requestcontext.system_job("celery:report_pack_build"):
        pack = services.report_pack_build(pack_pk=pack_pk)
        return str(pack.public_id) if pack else None
