"""Termination hooks (minimal version from the authentication branch).

The roles work owns termination itself; this module only gives other parts
a way to be told. Each revoker is called as ``fn(user, organization=None)``
inside the terminating transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Revoker = Callable[..., None]

_revokers: list[Revoker] = []


def register_revoker(fn: Revoker) -> Revoker:
    """Register ``fn(user, organization=None) -> None``; usable as a decorator."""
    if fn not in _revokers:
        _revokers.append(fn)
    return fn


def revokers_run(user: Any, organization: Any = None) -> None:
    for fn in list(_revokers):
        fn(user, organization=organization)
