"""Every periodic job, in one place. Each job selects by window, so a missed
run catches up and a repeated one does nothing."""

from __future__ import annotations

BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "heartbeat": {
        "task": "compliance.heartbeat",
        "schedule": 60.0,
    },
    # Daily, keyed by the day: called hourly so that a missed day catches
    # up; the day's JobRun slot makes every later call that day do nothing.
    "compliance-run-checks": {
        "task": "compliance.run_checks",
        "schedule": 3600.0,
    },
}
