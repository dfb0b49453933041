"""Celery entry points of the audit app: take ids, call one service."""

from __future__ import annotations

from celery import shared_task

from audit import services
from cloudexpress import requestcontext


@shared_task(name="audit.anchor", soft_time_limit=60, time_limit=120, max_retries=0)
def audit_anchor_task() -> int:
    """Anchor the head of each chain; a missed run is caught up by the next."""
    with requestcontext.system_job("celery:audit.anchor"):
        return len(services.audit_anchor_create())
