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
    # Head of each audit chain, so truncating the newest rows is detected.
    "audit-anchor": {
        "task": "audit.anchor",
        "schedule": 300.0,
    },
    # Daily: the first run of a quarter starts its campaigns, the others
    # find the quarter's slot taken and do nothing.
    "access-review-start": {
        "task": "accounts.access_review_start",
        "schedule": 24 * 3600.0,
    },
    "access-expire": {
        "task": "accounts.access_expire",
        "schedule": 3600.0,
    },
    # axes ends a cool-off lazily; this records the unlock within a minute.
    "lockouts-unlock": {
        "task": "accounts.lockouts_unlock",
        "schedule": 60.0,
    },
    "access-review-remind": {
        "task": "accounts.access_review_remind",
        "schedule": 24 * 3600.0,
    },
    "governance-reminders": {
        "task": "compliance.governance_reminders",
        "schedule": 3600.0,
    },
    # Daily, keyed by the day: called hourly so that a missed day catches
    # up; the day's JobRun slot makes every later call that day do nothing.
    "compliance-run-checks": {
        "task": "compliance.run_checks",
        "schedule": 3600.0,
    },
    # Reads every event after its cursor, so a missed run catches up.
    "audit-detection": {
        "task": "audit.detection_run",
        "schedule": 300.0,
    },
    "audit-notifications-daily": {
        "task": "audit.notifications_daily",
        "schedule": 24 * 3600.0,
    },
    "retention": {"task": "compliance.retention_run", "schedule": crontab(hour=2, minute=30)},
    "backup": {"task": "compliance.backup_run", "schedule": crontab(minute=5)},
    "restore-test": {
        "task": "compliance.restore_test",
        "schedule": crontab(hour=4, minute=0),
    },
    "usage-flush": {"task": "compliance.usage_flush", "schedule": 300.0},
    # Daily: reminds a month before the data-inventory review falls due and
    # every day once it is overdue (one notification per day at most).
    "privacy-inventory-review": {
        "task": "compliance.privacy_inventory_review_remind",
        "schedule": crontab(hour=7, minute=0),
    },
    # Daily, keyed by the month: the first call of a month sends last
    # month's control status pack, later calls find the slot taken.
    "compliance-monthly-pack": {
        "task": "compliance.monthly_pack",
        "schedule": 24 * 3600.0,
    },
}
