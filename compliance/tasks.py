"""Celery entry points of the compliance engine: take ids, call one service."""

from __future__ import annotations

from celery import shared_task

from cloudexpress import requestcontext
from compliance import services


@shared_task(name="compliance.heartbeat", soft_time_limit=30, time_limit=60, max_retries=0)
def heartbeat_task() -> int:
    with requestcontext.system_job("celery:heartbeat"):
        return services.heartbeat_record().pk


@shared_task(name="compliance.echo", soft_time_limit=10, time_limit=20, max_retries=0)
def echo_task(value: str) -> str:
    """Return its argument; the smallest round trip through broker and worker."""
    return value


# Registered here so the worker's autodiscovery of compliance.tasks finds it.
from compliance.reports.tasks import report_pack_build_task  # noqa: E402, F401
