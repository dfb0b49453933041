"""Every periodic job, in one place. Each job selects by window, so a missed
run catches up and a repeated one does nothing."""

from __future__ import annotations

BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "heartbeat": {
        "task": "compliance.heartbeat",
        "schedule": 60.0,
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
}
