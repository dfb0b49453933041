"""One Redis connection pool per process for Django's cache.

Django keeps a cache object per thread, and per request under ASGI (each
request runs its synchronous code on a thread of its own), and every cache
object builds its own connection pool. Without this, every request to an
ASGI worker opened a fresh TCP connection to Redis and sent its handshake:
measured on the dashboard, a quarter of a request's time. redis-py's pool is
safe across threads and starts afresh in a forked child, so one per process
and server is enough.
"""

from __future__ import annotations

import threading
from typing import Any

import redis

_pools: dict[tuple[str, tuple[tuple[str, Any], ...]], redis.ConnectionPool] = {}
_lock = threading.Lock()


class SharedConnectionPool(redis.ConnectionPool):
    """``CACHES[...]["OPTIONS"]["pool_class"]``: ``from_url`` hands every cache
    object of the process the same pool for the same server and options."""

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> redis.ConnectionPool:  # type: ignore[override]
        key = (url, tuple(sorted((name, repr(value)) for name, value in kwargs.items())))
        with _lock:
            pool = _pools.get(key)
            if pool is None:
                pool = _pools[key] = super().from_url(url, **kwargs)
            return pool
