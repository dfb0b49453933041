"""Thin adapters to pieces other areas own, looked up at call time.

Each returns None when the piece does not exist yet, and the caller then
uses its own minimal fallback. Nothing here imports those modules at load.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def _lookup(module: str, name: str) -> Callable[..., Any] | None:
    try:
        loaded = importlib.import_module(module)
    except ImportError:
        return None
    found = getattr(loaded, name, None)
    return found if callable(found) else None


def audit_prune_before() -> Callable[..., Any] | None:
    # TODO(merge): the audit area's `audit_prune_before(...)` prunes a chain's
    # oldest rows and records the anchor itself; confirm its signature
    # (model, before seq, run id) and drop the fallback in retention.py.
    return _lookup("audit.services", "audit_prune_before")


def audit_pseudonymise_subject() -> Callable[..., Any] | None:
    # TODO(merge): the audit area's `audit_pseudonymise_subject(user)` also
    # clears its personal-data digest; once it exists, gdpr.py calls it
    # instead of scrubbing audit rows itself.
    return _lookup("audit.services", "audit_pseudonymise_subject")


def audit_verify() -> Callable[..., Any] | None:
    return _lookup("audit.services", "audit_verify") or _lookup("audit.chain", "verify")


def four_eyes_require() -> Callable[..., Any] | None:
    # TODO(merge): route erasure through the roles area's four-eyes approval
    # (approval requested by one person, granted by another) once
    # accounts/ has it; until then the privacy.manage permission alone
    # authorises an erasure.
    return _lookup("accounts.services", "approval_require")
