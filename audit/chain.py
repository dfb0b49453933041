"""The tamper-evident chain over audit entries and security events.

Every chained table has its own chain. A row's ``row_hash`` is

    sha256(prev_hash || canonical(content))

where ``content`` holds only columns that never change after insert and no
personal value in the clear. Personal columns (addresses, agents, names in
``object_repr``, values in ``changes``) are committed to through
``personal_digest = sha256(personal_salt || canonical(personal))``, which is
part of the content. Erasure overwrites the personal columns and clears the
salt: the chain still verifies, and the digest no longer identifies anyone.

The insert locks the chain's row in ``ChainHead`` for the rest of its
transaction, reads the head from it and writes the new row (on PostgreSQL in
one prepared statement), so concurrent writers line up and the chain never
forks. The lock lasts until commit because the next row links to this row's
hash, which is only final once this transaction commits; it is taken at the
insert, not before, so it covers the insert and what the transaction does
after it. Verification lives in ``audit.verification``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection, connections, models, router, transaction
from django.db.models import signals

from cloudexpress import dbvendor, requestcontext

logger = logging.getLogger(__name__)

GENESIS = "0" * 64
SALT_BYTES = 16

# Columns covered by the hash, per table, in canonical order. Foreign keys
# that become NULL when their target goes are represented by ``*_pk``
# copies taken at insert.
HASHED_FIELDS: dict[str, tuple[str, ...]] = {
    "audit.auditlogentry": (
        "seq",
        "timestamp",
        "content_type_id",
        "object_pk",
        "object_id",
        "action",
        "cid",
        "actor_pk",
        "system_actor",
        "personal_digest",
    ),
    "audit.securityevent": (
        "seq",
        "public_id",
        "occurred_at",
        "event_type",
        "severity",
        "actor_pk",
        "target_user_pk",
        "organization_pk",
        "system_actor",
        "request_id",
        "personal_digest",
    ),
}

# Columns that may name or identify a person: committed to by the digest,
# overwritten by erasure.
PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "audit.auditlogentry": (
        "object_repr",
        "changes",
        "changes_text",
        "serialized_data",
        "additional_data",
        "remote_addr",
        "remote_port",
        "actor_email",
        "user_agent",
    ),
    "audit.securityevent": ("ip", "user_agent", "detail"),
}

# Foreign key -> the hashed copy it must agree with (or be NULL, after the
# target row was deleted).
FK_COPIES: dict[str, tuple[tuple[str, str], ...]] = {
    "audit.auditlogentry": (("actor_id", "actor_pk"),),
    "audit.securityevent": (
        ("actor_id", "actor_pk"),
        ("target_user_id", "target_user_pk"),
        ("organization_id", "organization_pk"),
    ),
}

_JSON_PERSONAL = {"changes", "serialized_data", "additional_data", "detail"}
# JSON columns of the chained tables, sent to the server as JSON text.
_JSON_COLUMNS = _JSON_PERSONAL | {"risk_factors"}


def label(model: type[models.Model] | models.Model) -> str:
    return model._meta.label_lower


def _canonical_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, uuid.UUID):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


# Built once: json.dumps with options builds a new encoder on every call.
_CONTENT_ENCODER = json.JSONEncoder(separators=(",", ":"))
_PERSONAL_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True)


def _compact_encoder(encoder: json.JSONEncoder) -> Any:
    """``encoder.encode`` without its Python wrapper, for the verification
    loop: the same C encoder json.dumps uses, called directly. Same output."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return encoder.encode
    one_shot = make(
        None,
        encoder.default,
        json.encoder.encode_basestring_ascii,
        None,
        encoder.key_separator,
        encoder.item_separator,
        encoder.sort_keys,
        encoder.skipkeys,
        encoder.allow_nan,
    )
    return lambda value: "".join(one_shot(value, 0))


encode_content = _compact_encoder(_CONTENT_ENCODER)
encode_personal = _compact_encoder(_PERSONAL_ENCODER)
_PLAIN_ENCODER = json.JSONEncoder()


def canonical_content(values: Sequence[Any]) -> bytes:
    """Encode the hashed columns, in ``HASHED_FIELDS`` order, as bytes."""
    return _CONTENT_ENCODER.encode([_canonical_value(v) for v in values]).encode()


def row_hash_of(prev_hash: str, content: bytes) -> str:
    digest = hashlib.sha256(prev_hash.encode())
    digest.update(content)
    return digest.hexdigest()


def personal_digest_of(salt: bytes, values: Sequence[Any]) -> str:
    """sha256(salt || canonical JSON of the personal values).

    The values are JSON-native by the time they are stored (``_seal_personal``
    makes them so), and read back as such.
    """
    encoded = encode_personal(list(values)).encode()
    return hashlib.sha256(bytes(salt) + encoded).hexdigest()


def _field(row: models.Model | type[models.Model], name: str) -> models.Field[Any, Any]:
    field = row._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field


def compute_hash(prev_hash: str, row: models.Model) -> str:
    """Hash ``row`` as it will read back: each value through its field's
    ``to_python`` first (an integer key given to a text column is text)."""
    values = []
    for name in HASHED_FIELDS[label(row)]:
        value = _field(row, name).to_python(getattr(row, name))
        setattr(row, name, value)
        values.append(value)
    return row_hash_of(prev_hash, canonical_content(values))


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


def _seal_personal(row: Any) -> None:
    """Give ``row`` a fresh salt and the digest of its personal columns.

    JSON values are passed through a JSON round trip first, so what is stored
    is exactly what was hashed (tuples become lists, keys become strings).
    """
    names = PERSONAL_FIELDS[label(row)]
    for name in names:
        value = getattr(row, name)
        if name in _JSON_PERSONAL and value is not None:
            setattr(row, name, json.loads(json.dumps(value)))
        elif name in {"remote_addr", "ip"}:
            # "" is stored as NULL; hash what will be read back.
            prepared = type(row)._meta.get_field(name).get_prep_value(value) if value else None
            setattr(row, name, prepared)
        elif value is not None:
            setattr(row, name, _field(row, name).to_python(value))
    salt = os.urandom(SALT_BYTES)
    row.personal_salt = salt
    row.personal_digest = personal_digest_of(salt, [getattr(row, n) for n in names])


def _head_table() -> str:
    from audit.models import ChainHead

    return ChainHead._meta.db_table


def _ensure_head(cursor: Any, model: type[models.Model]) -> None:
    """Create the head row of ``model``'s chain from the table, once."""
    table = connection.ops.quote_name(model._meta.db_table)
    cursor.execute(
        f"INSERT INTO {_head_table()} (chain, seq, prev_hash, row_hash) "  # noqa: S608 - names only
        f"SELECT %s, COALESCE(MAX(seq), 0), '', "
        f"COALESCE((SELECT row_hash FROM {table} ORDER BY seq DESC NULLS LAST LIMIT 1), %s) "
        f"FROM {table} ON CONFLICT (chain) DO NOTHING",
        [label(model), GENESIS],
    )


def lock_and_read_head(model: type[models.Model]) -> tuple[int, str]:
    """Lock ``model``'s chain until the transaction ends; return its head.

    PostgreSQL: the chain's row in the head table, locked FOR UPDATE.
    SQLite: BEGIN IMMEDIATE already holds the database's one write lock.
    """
    if dbvendor.is_postgresql():
        with connection.cursor() as cursor:
            for _ in range(2):
                cursor.execute(
                    f"SELECT seq, row_hash FROM {_head_table()} WHERE chain = %s FOR UPDATE",  # noqa: S608
                    [label(model)],
                )
                found = cursor.fetchone()
                if found:
                    return int(found[0]), str(found[1])
                _ensure_head(cursor, model)
        raise RuntimeError(f"no head row for chain {label(model)}")
    dbvendor.lock_for_transaction(f"chain:{label(model)}")
    head = (
        model._default_manager.order_by("-seq")
        .exclude(seq=None)
        .values_list("seq", "row_hash")
        .first()
    )
    return head if head else (0, GENESIS)


def head_advance(model: type[models.Model], seq: int, prev_hash: str, row_hash: str) -> None:
    """Record the chain's new last row: its ``seq``, ``prev_hash`` and
    ``row_hash``. Call it in the transaction that took ``lock_and_read_head``
    and inserts the rows, so a rollback undoes the head too (SQLite keeps no
    head table: its head is read from the rows)."""
    if dbvendor.is_postgresql():
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {_head_table()} SET seq = %s, prev_hash = %s, row_hash = %s "  # noqa: S608
                "WHERE chain = %s",
                [seq, prev_hash, row_hash, label(model)],
            )


def link_many(model: type[models.Model], rows: Sequence[Any]) -> None:
    """Make ``rows`` the next heads of ``model``'s chain, ready to insert.

    Each row gets its foreign-key copies, salt and personal digest, ``seq``,
    ``prev_hash`` and ``row_hash`` exactly as ``insert_chained`` gives one
    row, and the head row is locked and advanced to the last of them. Call it
    inside the transaction that inserts the rows (by any means): the lock
    lasts until that transaction ends, and a rollback undoes the head too.
    """
    if not rows:
        return
    if not connection.in_atomic_block:
        raise RuntimeError("chain.link_many needs the caller's transaction")
    copies = FK_COPIES[label(model)]
    for row in rows:
        for fk, copy in copies:
            setattr(row, copy, getattr(row, fk))
        _seal_personal(row)
    seq, head_hash = lock_and_read_head(model)
    prev_hash = head_hash
    for row in rows:
        seq += 1
        row.seq = seq
        row.prev_hash = prev_hash
        row.row_hash = compute_hash(prev_hash, row)
        prev_hash = row.row_hash
    head_advance(model, seq, rows[-1].prev_hash, prev_hash)


_HASHED_AFTER_SEQ: dict[type[models.Model], list[tuple[str, Any]]] = {}


def _content_after_seq(row: Any) -> str:
    """The canonical content without its leading ``[seq``: what follows it."""
    model = type(row)
    fields = _HASHED_AFTER_SEQ.get(model)
    if fields is None:
        fields = [(name, _field(model, name).to_python) for name in HASHED_FIELDS[label(row)][1:]]
        _HASHED_AFTER_SEQ[model] = fields
    values = []
    for name, to_python in fields:
        value = to_python(getattr(row, name))
        setattr(row, name, value)
        values.append(value)
    return "," + canonical_content(values).decode()[1:]


def _insert_sql(model: type[models.Model]) -> tuple[str, list[models.Field[Any, Any]]]:
    cached = _INSERT_SQL.get(model)
    if cached:
        return cached
    quote = connection.ops.quote_name
    fields = [
        f
        for f in model._meta.concrete_fields
        if not f.primary_key and f.attname not in {"seq", "prev_hash", "row_hash"}
    ]
    columns = ", ".join(quote(str(f.column)) for f in fields)
    # Typed placeholders: the statement is prepared once per connection and
    # a SELECT list gives the server no column to infer a type from.
    placeholders = ", ".join(f"%s::{f.db_type(connection)}" for f in fields)
    # One statement takes the head row's lock, advances it and inserts the
    # row linked to it. Waiting on the lock, PostgreSQL re-reads the head
    # row as the previous writer committed it, so the link is always to the
    # newest row; the hash is computed by the server from the same bytes
    # ``row_hash_of`` hashes.
    sql = (
        f"WITH h AS (UPDATE {_head_table()} SET seq = seq + 1, prev_hash = row_hash, "  # noqa: S608
        "row_hash = encode(sha256(convert_to(row_hash || '[' || (seq + 1)::text || %s::text, "
        "'UTF8')), 'hex') WHERE chain = %s::text RETURNING seq, prev_hash, row_hash) "
        f"INSERT INTO {quote(model._meta.db_table)} (seq, prev_hash, row_hash, {columns}) "
        f"SELECT h.seq, h.prev_hash, h.row_hash, {placeholders} FROM h "
        "RETURNING id, seq, prev_hash, row_hash"
    )
    _INSERT_SQL[model] = (sql, fields)
    return sql, fields


_INSERT_SQL: dict[type[models.Model], tuple[str, list[models.Field[Any, Any]]]] = {}


def _execute_prepared(db: Any, sql: str, params: list[Any]) -> Any:
    """Run ``sql`` as a prepared statement and return its one row.

    Django's cursors bind on the client, so the server would parse and plan
    this statement on every audited write; a server-binding cursor on the
    same connection (and transaction) prepares it once per connection.
    """
    import psycopg

    db.ensure_connection()
    with psycopg.Cursor(db.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchone()


def insert_chained(row: Any, *args: Any, **kwargs: Any) -> None:
    """Insert ``row`` as the new head of its table's chain."""
    model = type(row)
    _seal_personal(row)
    if not dbvendor.is_postgresql():
        with transaction.atomic(savepoint=False):
            seq, prev_hash = lock_and_read_head(model)
            row.seq = seq + 1
            row.prev_hash = prev_hash
            row.row_hash = compute_hash(prev_hash, row)
            models.Model.save(row, *args, **kwargs)
        return

    using = router.db_for_write(model)
    # The connection itself, not the ``connection`` proxy: every attribute
    # read through the proxy is a lookup, and this loop makes dozens.
    db = connections[using]
    signals.pre_save.send(sender=model, instance=row, raw=False, using=using, update_fields=None)
    rest = _content_after_seq(row)
    sql, fields = _insert_sql(model)
    params = [rest, label(model)]
    # Values go as plain Python values: every placeholder carries its column
    # type, so the driver needs no per-field adaptation (JSON goes as text).
    values = row.__dict__
    for f in fields:
        value = values[f.attname]
        if value is not None and f.attname in _JSON_COLUMNS:
            value = _PLAIN_ENCODER.encode(value)
        params.append(value)
    with transaction.atomic(using=using, savepoint=False):
        returned = _execute_prepared(db, sql, params)
        if returned is None:
            with db.cursor() as cursor:
                _ensure_head(cursor, model)
            returned = _execute_prepared(db, sql, params)
    row.pk, row.seq, row.prev_hash, row.row_hash = returned
    row._state.adding = False
    row._state.db = using
    signals.post_save.send(
        sender=model, instance=row, created=True, raw=False, using=using, update_fields=None
    )


def insert_chained_many(model: type[models.Model], rows: Iterable[Any]) -> list[Any]:
    """Insert ``rows`` as consecutive heads under one lock, in batched statements."""
    rows = list(rows)
    if not rows:
        return rows
    with transaction.atomic(savepoint=False):
        link_many(model, rows)
        model._default_manager.bulk_create(rows, batch_size=500)
    return rows
