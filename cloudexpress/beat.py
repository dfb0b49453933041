"""Every periodic job, in one place. Each job selects by window, so a missed
run catches up and a repeated one does nothing."""

from __future__ import annotations

from celery.schedules import crontab
from django.conf import settings

BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "heartbeat": {
        "task": "compliance.heartbeat",
        "schedule": float(settings.HEARTBEAT_SECONDS),
    },
    "retention": {"task": "compliance.retention_run", "schedule": crontab(hour=2, minute=30)},
    "backup": {"task": "compliance.backup_run", "schedule": crontab(minute=5)},
    "restore-test": {
        "task": "compliance.restore_test",
        "schedule": crontab(hour=4, minute=0),
    },
    "usage-flush": {"task": "compliance.usage_flush", "schedule": 300.0},
}
