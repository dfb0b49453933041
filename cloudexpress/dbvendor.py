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


class DeletedRowsChanged(RuntimeError):
    """The rows a summarised delete removed are not the rows it summarised."""


def key_runs(keys: list[int]) -> list[list[int]]:
    """Compress integers into sorted [first, last] runs."""
    keys = sorted(keys)
    runs: list[list[int]] = []
    for value in keys:
        if runs and value == runs[-1][1] + 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])
    return runs


class _NotDense(Exception):
    """Rolls an optimistic delete back to its savepoint."""


def delete_summarised(
    table: str,
    key: str,
    where: str,
    params: Any,
    *,
    key_range: tuple[int, int] | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> list[list[int]]:
    """Delete the rows of ``table`` that ``where`` selects, in one statement,
    and return their ``key`` values as sorted [first, last] runs.

    ``table`` and ``key`` are quoted names; ``where`` is SQL the ORM compiled,
    with ``params``. Call it inside a transaction.

    PostgreSQL never adds RETURNING: fetching each deleted row back for it
    costs more than the delete itself (about 2x on a million rows).

    * ``key_range=(after, upper)`` says ``where`` selects keys in
      (after, upper] only, and that they are probably all there (old rows
      are dense). The DELETE runs alone, under a savepoint: if it removed
      ``upper - after`` rows, those are exactly every key of the range, so
      the range is the answer, whatever ran beside it. If it removed fewer,
      it is rolled back to the savepoint and the summary below runs.
    * Otherwise the keys are summarised by a read of the same rows before
      the DELETE (count, min, max; the runs themselves only when the keys
      are not contiguous). The DELETE's row count must equal the summary's;
      a row that changed in between makes them differ, and
      ``DeletedRowsChanged`` rolls the caller's transaction back. (A count
      can only stay equal while the set changes if one row stopped matching
      while another started, which takes moving a record's timestamp
      backwards: nothing in the product does.)

    SQLite: DELETE ... RETURNING, the keys compressed here; the embedded
    database holds few rows.
    """
    from django.db import transaction

    connection = connections[using]
    with connection.cursor() as cursor:
        if not is_postgresql(using):
            cursor.execute(f"DELETE FROM {table} WHERE {where} RETURNING {key}", params)  # noqa: S608
            return key_runs([row[0] for row in cursor.fetchall()])

        if key_range is not None:
            after, upper = key_range
            try:
                with transaction.atomic(using=using):
                    cursor.execute(f"DELETE FROM {table} WHERE {where}", params)  # noqa: S608
                    if cursor.rowcount != upper - after:
                        raise _NotDense
            except _NotDense:
                pass
            else:
                return [[after + 1, upper]] if upper > after else []

        cursor.execute(
            f"SELECT count(*), min({key}), max({key}) FROM {table} WHERE {where}",  # noqa: S608
            params,
        )
        count, first, last = cursor.fetchone()
        if not count:
            return []
        if last - first + 1 == count:
            runs = [[first, last]]
        else:
            # Gaps and islands: within one run, key minus rank is constant.
            cursor.execute(
                f"SELECT min(k), max(k) FROM (SELECT {key} AS k, "  # noqa: S608
                f"{key} - row_number() OVER (ORDER BY {key}) AS island "
                f"FROM {table} WHERE {where}) AS keys GROUP BY island ORDER BY 1",
                params,
            )
            runs = [[int(a), int(b)] for a, b in cursor.fetchall()]
        cursor.execute(f"DELETE FROM {table} WHERE {where}", params)  # noqa: S608
        if cursor.rowcount != count:
            raise DeletedRowsChanged(f"summarised {count} rows, deleted {cursor.rowcount}")
        return runs
