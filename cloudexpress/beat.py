"""Every periodic job, in one place. Each job selects by window, so a missed
run catches up and a repeated one does nothing."""

from __future__ import annotations

BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "heartbeat": {
        "task": "compliance.heartbeat",
        "schedule": 60.0,
    },
    "governance-reminders": {
        "task": "compliance.governance_reminders",
        "schedule": 3600.0,
    },
}
