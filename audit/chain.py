"""The tamper-evident chain over audit entries and security events.

Every chained table has its own chain. A row's ``row_hash`` is

    sha256(prev_hash || canonical(content))

where ``content`` holds only columns that never change after insert. The
insert takes a per-table lock for the rest of its transaction, reads the
current head and writes the new row, so concurrent writers line up and the
chain never forks.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from django.db import models, transaction

from cloudexpress import dbvendor, requestcontext

GENESIS = "0" * 64

# Columns covered by the hash, per table. Personal values (e-mails, IPs,
# user agents, free text about a person) are deliberately absent so that
# erasure can remove them without breaking the chain.
HASHED_FIELDS: dict[str, tuple[str, ...]] = {
    "audit.auditlogentry": (
        "seq",
        "timestamp",
        "content_type_id",
        "object_pk",
        "action",
        "cid",
        "system_actor",
    ),
    "audit.securityevent": (
        "seq",
        "public_id",
        "occurred_at",
        "event_type",
        "severity",
        "system_actor",
        "request_id",
    ),
}


def _label(model: type[models.Model] | models.Model) -> str:
    return model._meta.label_lower


def _canonical_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def canonical_content(row: models.Model) -> bytes:
    fields = HASHED_FIELDS[_label(row)]
    content = {name: _canonical_value(getattr(row, name)) for name in fields}
    return json.dumps(content, sort_keys=True, separators=(",", ":")).encode()


def compute_hash(prev_hash: str, row: models.Model) -> str:
    digest = hashlib.sha256(prev_hash.encode())
    digest.update(canonical_content(row))
    return digest.hexdigest()


def fill_context(entry: Any) -> None:
    """Stamp an audit entry with the actor, address, agent and request id."""
    context = requestcontext.current()
    if context is None:
        return
    if entry.actor_id is None and context.actor_id is not None:
        entry.actor_id = context.actor_id
    if not entry.remote_addr and context.ip:
        entry.remote_addr = context.ip
    if not entry.user_agent:
        entry.user_agent = context.user_agent
    if not entry.cid:
        entry.cid = context.request_id
    if not entry.system_actor:
        entry.system_actor = context.system_actor


def insert_chained(row: Any, *args: Any, **kwargs: Any) -> None:
    """Insert ``row`` as the new head of its table's chain."""
    model = type(row)
    with transaction.atomic():
        dbvendor.lock_for_transaction(f"chain:{_label(model)}")
        head = (
            model._default_manager.order_by("-seq")
            .exclude(seq=None)
            .values_list("seq", "row_hash")
            .first()
        )
        seq, prev_hash = head if head else (0, GENESIS)
        row.seq = seq + 1
        row.prev_hash = prev_hash
        # Timestamps are truncated to what every backend stores, so the
        # hash computed now equals the one recomputed from the stored row.
        for name in ("timestamp", "occurred_at"):
            value = getattr(row, name, None)
            if isinstance(value, datetime):
                setattr(row, name, value.replace(microsecond=value.microsecond))
        row.row_hash = compute_hash(prev_hash, row)
        models.Model.save(row, *args, **kwargs)
