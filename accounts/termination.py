"""Revokers: what else a terminated user holds, revoked at termination.

Sessions are revoked by the termination service itself. Every other kind of
credential (JWT refresh tokens, API keys, OAuth tokens) belongs to the module
that issues it, which registers a revoker here from its app's ``ready()``:

    from accounts.termination import register_revoker

    @register_revoker
    def api_keys_revoke(*, user, organization, by, reason) -> int:
        ...  # revoke the user's keys (in ``organization`` only, when given)
        return revoked_count

A revoker runs inside the termination's transaction: if it raises, nothing
is terminated and the caller sees the error. ``organization`` is None when the
user is terminated everywhere.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class Revoker(Protocol):
    __name__: str
    __qualname__: str

    def __call__(self, *, user: Any, organization: Any, by: Any, reason: str) -> int: ...


_REVOKERS: dict[str, Revoker] = {}


def register_revoker(fn: Revoker) -> Revoker:
    """Register ``fn`` (usable as a decorator); registering twice is harmless."""
    _REVOKERS[f"{fn.__module__}.{fn.__qualname__}"] = fn
    return fn


def unregister_revoker(fn: Revoker) -> None:
    _REVOKERS.pop(f"{fn.__module__}.{fn.__qualname__}", None)


def revokers_run(*, user: Any, organization: Any, by: Any, reason: str) -> dict[str, int]:
    """Run every revoker; return how many credentials each revoked."""
    counts: dict[str, int] = {}
    for name, fn in _REVOKERS.items():
        counts[name] = int(fn(user=user, organization=organization, by=by, reason=reason))
    logger.info("termination.revokers_ran", extra={"user_id": user.pk, "counts": counts})
    return counts
