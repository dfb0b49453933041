"""Behaviour that differs between PostgreSQL and SQLite, in one module.

Each function has a PostgreSQL path and a SQLite path, and both are tested:
the embedded default runs on SQLite, production and CI on PostgreSQL.
"""

from __future__ import annotations

import zlib
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections


def _lock_key(name: str) -> int:
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def is_postgresql(using: str = DEFAULT_DB_ALIAS) -> bool:
    return connections[using].vendor == "postgresql"


def lock_for_transaction(name: str, using: str = DEFAULT_DB_ALIAS) -> None:
    """Serialise writers on ``name`` until the current transaction ends.

    PostgreSQL: a transaction-level advisory lock, held only for the rest of
    the transaction. SQLite: the settings open every transaction with BEGIN
    IMMEDIATE, which already takes the database's single write lock.
    """
    if is_postgresql(using):
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_key(name)])


def try_lock_for_session(name: str, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Take a session-level lock on ``name`` without waiting; False if held.

    Used to keep runs from overlapping. On SQLite there is one writer at a
    time anyway, so the caller's row claim does the work and this is True.
    """
    if is_postgresql(using):
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [_lock_key(name)])
            row = cursor.fetchone()
            return bool(row and row[0])
    return True


def unlock_session(name: str, using: str = DEFAULT_DB_ALIAS) -> None:
    if is_postgresql(using):
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_lock_key(name)])


def database_size_bytes(using: str = DEFAULT_DB_ALIAS) -> int:
    """The size of the database on disk."""
    with connections[using].cursor() as cursor:
        if is_postgresql(using):
            cursor.execute("SELECT pg_database_size(current_database())")
        else:
            cursor.execute(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
            )
        row = cursor.fetchone()
        return int(row[0]) if row else 0


def timestamp_as_isoformat(column: str) -> Any | None:
    """``column`` rendered by the database as ``datetime.isoformat`` renders it
    in UTC with microseconds, or None where the caller must format it.

    Lets a long scan (chain verification) skip parsing and re-formatting a
    timestamp per row. SQLite: None.
    """
    if not is_postgresql():
        return None
    from django.db.models import CharField, F, Func

    return Func(
        F(column),
        template=(
            "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
        ),
        output_field=CharField(),
    )


def uuid_as_text(column: str) -> Any | None:
    """``column`` (a UUID) rendered by the database as ``str(uuid)`` renders
    it, or None where the caller must format it (SQLite stores 32 hex digits).
    """
    if not is_postgresql():
        return None
    from django.db.models import CharField, F
    from django.db.models.functions import Cast

    return Cast(F(column), output_field=CharField())
