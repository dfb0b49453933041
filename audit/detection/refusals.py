"""Refused requests from blocked addresses, as security events.

A blocked attacker may keep sending requests by the thousand; recording each
refusal would let it fill the trail (and the disk) at will. So refusals are
counted in the shared cache per address and window, and only the first
refusal of an address in each window records ``access.ip_denied``. That
event carries how many refusals the address's previous recorded window
counted, so the trail holds the size of a flood as well as its start.

A second cap, per blocked network and window, keeps an attacker who rotates
addresses inside a blocked range (an IPv6 /64 holds billions) from turning
the per-address limit into one event per request.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from audit.models import SecurityEvent
from audit.services import security_event_record

logger = logging.getLogger(__name__)

# Counters outlive their window so the next recorded window can still read
# the previous one's total after a pause in the flood.
_COUNTER_SECONDS = 6 * 60 * 60


def refusal_settings() -> dict[str, int]:
    config: dict[str, Any] = getattr(settings, "DETECTION_CONTAINMENT", {})
    return {
        "window_seconds": int(config.get("refusal_window_seconds", 60)),
        "events_per_network": int(config.get("refusal_events_per_network", 20)),
    }


def _count(key: str) -> int:
    """Increment ``key`` atomically (Redis INCR) and return the new value."""
    cache.add(key, 0, _COUNTER_SECONDS)
    try:
        return int(cache.incr(key))
    except ValueError:
        # Expired between add and incr: this request opens it again.
        cache.set(key, 1, _COUNTER_SECONDS)
        return 1


def blocked_refusal_record(*, ip: str, network: str, channel: str) -> SecurityEvent | None:
    """Count one refused request from ``ip`` (inside the blocked ``network``);
    record ``access.ip_denied`` when it is the address's first refusal of the
    current window and the network's cap allows. Return the event, if any."""
    config = refusal_settings()
    window_seconds = config["window_seconds"]
    now = timezone.now()
    window = int(now.timestamp()) // window_seconds
    if _count(f"detection:refused:{ip}:{window}") != 1:
        return None
    if _count(f"detection:refused-net:{network}:{window}") > config["events_per_network"]:
        logger.warning("detection.refusal_events_capped", extra={"network": network})
        return None

    last_key = f"detection:refused-last:{ip}"
    previous = cache.get(last_key)
    cache.set(last_key, window, _COUNTER_SECONDS)
    detail: dict[str, Any] = {
        "reason": "blocked",
        "channel": channel,
        "network": network,
        "window_start": _window_start(window, window_seconds),
        "window_seconds": window_seconds,
    }
    if isinstance(previous, int) and previous != window:
        detail["previous_window_start"] = _window_start(previous, window_seconds)
        detail["previous_window_refusals"] = int(
            cache.get(f"detection:refused:{ip}:{previous}") or 0
        )
    return security_event_record(
        event_type=SecurityEvent.Type.IP_DENIED, ip=ip, detail=detail, occurred_at=now
    )


def _window_start(window: int, window_seconds: int) -> str:
    return dt.datetime.fromtimestamp(window * window_seconds, dt.UTC).isoformat()
