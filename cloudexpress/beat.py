"""Every periodic job, in one place, and the scheduler that sends them from
one beat only. Each job selects by window, so a missed run catches up and a
repeated one does nothing."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from typing import Any

from celery.beat import PersistentScheduler
from celery.schedules import crontab
from django.conf import settings

logger = logging.getLogger(__name__)

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


# The Lua script renews the lock when this beat holds it and takes it when
# nobody does, in one step, so two beats starting together cannot both win.
_TAKE_OR_RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class LockedScheduler(PersistentScheduler):
    """Beat's scheduler behind a lock in Redis, so that exactly one beat
    sends the schedule: a second beat process stands by, sends nothing, and
    takes over within ``BEAT_LOCK_SECONDS`` when the first one dies.

    The embedded default (kombu's filesystem transport, no Redis) runs one
    beat on one machine and has no lock.
    """

    lock_key = "cloudexpress:beat:lock"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.lock_token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        self.lock_seconds = int(settings.BEAT_LOCK_SECONDS)
        self._client: Any = None
        self._was_leader: bool | None = None
        super().__init__(*args, **kwargs)
        # Tick often enough to renew the lock well before it expires.
        self.max_interval: float = min(float(self.max_interval), self.lock_seconds / 3)

    def _redis(self) -> Any:
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(
                settings.CELERY_BROKER_URL, socket_timeout=5, socket_connect_timeout=5
            )
        return self._client

    def holds_lock(self) -> bool:
        """Take or renew the lock; False while another beat holds it."""
        if not str(settings.CELERY_BROKER_URL).startswith(("redis://", "rediss://")):
            return True
        held = bool(
            self._redis().eval(
                _TAKE_OR_RENEW, 1, self.lock_key, self.lock_token, self.lock_seconds * 1000
            )
        )
        if held != self._was_leader:
            logger.info("beat.leader" if held else "beat.standby", extra={"lock": self.lock_key})
            self._was_leader = held
        return held

    def tick(self, *args: Any, **kwargs: Any) -> float:
        try:
            leader = self.holds_lock()
        except Exception:
            # Redis is down: nothing could be sent anyway; try again soon.
            logger.warning("beat.lock_unavailable", exc_info=True)
            return self.max_interval
        if not leader:
            return self.max_interval
        return float(super().tick(*args, **kwargs))

    def close(self) -> None:
        try:
            if self._client is not None:
                self._client.eval(_RELEASE, 1, self.lock_key, self.lock_token)
        except Exception:
            logger.warning("beat.lock_release_failed", exc_info=True)
        super().close()
