"""Celery entry points of the privacy package: each calls one service."""

from __future__ import annotations

from celery import shared_task

from cloudexpress import requestcontext


@shared_task(
    name="compliance.retention_run",
    soft_time_limit=3 * 3600,
    time_limit=3 * 3600 + 300,
    max_retries=2,
    acks_late=True,
)
def retention_run_task() -> str:
    from compliance.privacy.retention import retention_execute

    with requestcontext.system_job("celery:retention"):
        return str(retention_execute().public_id)


@shared_task(
    name="compliance.backup_run",
    soft_time_limit=3000,
    time_limit=3300,
    max_retries=1,
    acks_late=True,
)
def backup_run_task() -> int | None:
    from compliance.privacy.backups import backup_run

    with requestcontext.system_job("celery:backup"):
        record = backup_run()
        return record.pk if record else None


@shared_task(
    name="compliance.restore_test",
    soft_time_limit=4 * 3600,
    time_limit=4 * 3600 + 300,
    max_retries=0,
)
def restore_test_task() -> int:
    from compliance.privacy.backups import restore_test_run

    with requestcontext.system_job("celery:restore_test"):
        return restore_test_run().pk


@shared_task(name="compliance.usage_flush", soft_time_limit=240, time_limit=300, max_retries=0)
def usage_flush_task() -> int:
    from compliance.privacy.usage import usage_flush

    with requestcontext.system_job("celery:usage_flush"):
        return usage_flush()


@shared_task(
    name="compliance.privacy_inventory_review_remind",
    soft_time_limit=240,
    time_limit=300,
    max_retries=0,
)
def privacy_inventory_review_remind_task() -> int:
    from compliance.privacy.inventory import inventory_review_remind

    with requestcontext.system_job("celery:privacy_inventory_review_remind"):
        return inventory_review_remind()
