"""Behaviour that differs between PostgreSQL and SQLite, in one module.

Each function has a PostgreSQL path and a SQLite path, and both are tested:
the embedded default runs on SQLite, production and CI on PostgreSQL.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Aggregate, Lookup

# Compact, and built once: json.dumps with options builds an encoder per call.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


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
            cursor.execute(f"DELETE FROM {table} WHERE {where} RETURNING {key}", params)  # noqa: S608  # nosec B608
            return key_runs([row[0] for row in cursor.fetchall()])

        if key_range is not None:
            after, upper = key_range
            try:
                with transaction.atomic(using=using):
                    cursor.execute(f"DELETE FROM {table} WHERE {where}", params)  # noqa: S608  # nosec B608
                    if cursor.rowcount != upper - after:
                        raise _NotDense
            except _NotDense:
                pass
            else:
                return [[after + 1, upper]] if upper > after else []

        cursor.execute(
            f"SELECT count(*), min({key}), max({key}) FROM {table} WHERE {where}",  # noqa: S608  # nosec B608
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
                f"SELECT min(k), max(k) FROM (SELECT {key} AS k, "  # noqa: S608  # nosec B608
                f"{key} - row_number() OVER (ORDER BY {key}) AS island "
                f"FROM {table} WHERE {where}) AS keys GROUP BY island ORDER BY 1",
                params,
            )
            runs = [[int(a), int(b)] for a, b in cursor.fetchall()]
        cursor.execute(f"DELETE FROM {table} WHERE {where}", params)  # noqa: S608  # nosec B608
        if cursor.rowcount != count:
            raise DeletedRowsChanged(f"summarised {count} rows, deleted {cursor.rowcount}")
        return runs


# --- bulk writes of the event ingest ------------------------------------------


# (alias, table) -> the sequence behind its primary key.
_SEQUENCES: dict[tuple[str, str], str] = {}


def rows_copy(
    model: type[Any],
    field_names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    returning_ids: bool = False,
    using: str = DEFAULT_DB_ALIAS,
) -> list[int]:
    """Insert ``rows`` (values in ``field_names`` order, as the model holds
    them) into ``model``'s table without model instances; return their new
    primary keys in order when ``returning_ids``.

    PostgreSQL: the keys are taken from the table's sequence in one query and
    the rows travel by COPY, the server's bulk-load path, which parses no SQL
    per row and returns nothing to wait for. JSON values are encoded here,
    every other value goes as the driver dumps it. SQLite: one ``bulk_create``
    of unsaved instances (the embedded default imports small files).
    """
    if not rows:
        return []
    meta = model._meta
    fields = [meta.get_field(name) for name in field_names]
    if not is_postgresql(using):
        created = model._default_manager.using(using).bulk_create(
            [model(**dict(zip(field_names, row, strict=True))) for row in rows], batch_size=500
        )
        return [obj.pk for obj in created] if returning_ids else []

    quote = connections[using].ops.quote_name
    json_at = [i for i, f in enumerate(fields) if f.get_internal_type() == "JSONField"]
    encode = _COMPACT_JSON.encode
    columns = [str(f.column) for f in fields]
    ids: list[int] = []
    with connections[using].cursor() as cursor:
        if returning_ids:
            pk = meta.pk.column
            sequence = _SEQUENCES.get((using, meta.db_table))
            if sequence is None:
                cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [meta.db_table, pk])
                found = cursor.fetchone()
                sequence = _SEQUENCES[(using, meta.db_table)] = str(found[0] if found else "")
            # The sequence named once: looked up per row it costs ten times more.
            cursor.execute(
                "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, len(rows)]
            )
            ids = [int(found[0]) for found in cursor.fetchall()]
            columns.insert(0, pk)
        # Names come from the model's metadata, never from input.
        statement = (
            f"COPY {quote(meta.db_table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
        )
        with cursor.cursor.copy(statement) as copy:
            write = copy.write_row
            for index, row in enumerate(rows):
                values = list(row)
                for at in json_at:
                    if values[at] is not None:
                        values[at] = encode(values[at])
                if returning_ids:
                    values.insert(0, ids[index])
                write(values)
    return ids


def values_present(
    model: type[Any],
    field_name: str,
    values: Sequence[str],
    *,
    using: str = DEFAULT_DB_ALIAS,
) -> set[str]:
    """The ``values`` already stored in ``model.field_name``.

    PostgreSQL: the values travel as one array parameter (``= ANY(%s)``), so
    a batch of thousands is one placeholder to bind, not thousands. SQLite:
    the ORM's ``__in``, in chunks under its variable limit.
    """
    if not values:
        return set()
    if not is_postgresql(using):
        found: set[str] = set()
        manager = model._default_manager.using(using)
        for start in range(0, len(values), 500):
            chunk = list(values[start : start + 500])
            found.update(
                manager.filter(**{f"{field_name}__in": chunk}).values_list(field_name, flat=True)
            )
        return found
    quote = connections[using].ops.quote_name
    column = quote(str(model._meta.get_field(field_name).column))
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM {quote(model._meta.db_table)} "  # noqa: S608  # nosec B608  # nosec B608 - names only
            f"WHERE {column} = ANY(%s::text[])",
            [list(values)],
        )
        return {str(found[0]) for found in cursor.fetchall()}


def counts_add(
    model: type[Any],
    key_fields: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    count_field: str = "count",
    latest_field: str = "last_seen_at",
    using: str = DEFAULT_DB_ALIAS,
) -> None:
    """Add to counters keyed by ``key_fields`` (a unique constraint), creating
    missing ones; each row is (*key, increment, seen_at).

    The increment is added by the database (``count = count + excluded``), so
    concurrent writers need no lock and never lose each other's counts.
    PostgreSQL: the rows travel as one array per column through ``unnest``.
    SQLite: the same upsert, one row at a time in ``executemany``.
    """
    if not rows:
        return
    meta = model._meta
    quote = connections[using].ops.quote_name
    table = quote(meta.db_table)
    keys = [quote(str(meta.get_field(name).column)) for name in key_fields]
    count = quote(str(meta.get_field(count_field).column))
    latest = quote(str(meta.get_field(latest_field).column))
    columns = ", ".join([*keys, count, latest])
    # All names come from the model's metadata.
    conflict = (
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "  # nosec B608 - identifiers only, values bound
        f"{count} = {table}.{count} + excluded.{count}, "
    )
    if is_postgresql(using):
        width = len(key_fields)
        arrays = [[row[i] for row in rows] for i in range(width + 2)]
        casts = ["text[]"] * width + ["bigint[]", "timestamptz[]"]
        unnest = ", ".join(f"%s::{cast}" for cast in casts)
        sql = (
            f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({unnest}) "  # noqa: S608  # nosec B608
            + conflict
            + f"{latest} = GREATEST({table}.{latest}, excluded.{latest})"
        )
        with connections[using].cursor() as cursor:
            cursor.execute(sql, arrays)
        return
    marks = ", ".join(["%s"] * (len(key_fields) + 2))
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES ({marks}) "  # noqa: S608  # nosec B608
        + conflict
        + f"{latest} = MAX({table}.{latest}, excluded.{latest})"
    )
    field = meta.get_field(latest_field)
    connection = connections[using]
    prepared = [
        (*row[:-1], field.get_db_prep_value(row[-1], connection, prepared=False)) for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, prepared)


class AnyOf(Lookup):
    """``column IN values`` with the values as one parameter, for long lists:
    ``filter(AnyOf(F("value"), values))``.

    Binding thousands of placeholders costs the driver more than the query
    costs the server. PostgreSQL: ``= ANY(%s)`` with one text array. SQLite:
    ``IN (SELECT value FROM json_each(%s))`` with one JSON array, which also
    keeps clear of SQLite's limit on variables per statement.
    """

    lookup_name = "any_of"
    prepare_rhs = False

    def as_postgresql(self, compiler: Any, connection: Any) -> Any:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s::text[])", (*lhs_params, [str(v) for v in self.rhs])

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = _COMPACT_JSON.encode([str(v) for v in self.rhs])
        # lhs is the compiled column; the values are the one bound parameter.
        return f"{lhs} IN (SELECT value FROM json_each(%s))", (*lhs_params, values)  # noqa: S608  # nosec B608


# --- Median -------------------------------------------------------------------


class Median(Aggregate):
    """The median of a column, NULLs left out, computed by the database.

    PostgreSQL: ``percentile_cont(0.5)``, which takes numbers and intervals
    alike. SQLite has no median: ``sqlite_functions_register`` gives each
    connection a ``MEDIAN`` aggregate (the embedded default holds few rows).
    Both return the mean of the two middle values for an even count, as
    ``statistics.median`` does.
    """

    function = "MEDIAN"
    name = "Median"
    allow_distinct = False

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            function="PERCENTILE_CONT",
            template="%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)",
            **extra,
        )


class _SqliteMedian:
    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: float | None) -> None:
        if value is not None:
            self.values.append(value)

    def finalize(self) -> float | None:
        if not self.values:
            return None
        import statistics

        return float(statistics.median(self.values))


def sqlite_functions_register(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Give a new SQLite connection the functions PostgreSQL has built in
    (``connection_created`` handler)."""
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("MEDIAN", 1, _SqliteMedian)


# --- Role graph stamp ------------------------------------------------------

# The tables whose writes change what a role holds (accounts.RoleGraphStamp).
ROLE_GRAPH_TABLES = ("accounts_role", "accounts_role_permissions", "accounts_permission")


def role_graph_stamp_triggers(vendor: str) -> tuple[list[str], list[str]]:
    """The statements that install, and those that remove, the triggers giving
    the role graph stamp a new random token on every write to its tables.

    PostgreSQL: one statement-level trigger per table, which fires on every
    INSERT, UPDATE, DELETE and TRUNCATE, even one touching no row. SQLite has
    row-level triggers only, one per table and operation; a statement that
    touches no row changes nothing there, so it needs no new token either.

    Installing is idempotent (``CREATE OR REPLACE``, ``IF NOT EXISTS``), so the
    same statements both create the triggers and put back any that a table
    rebuild dropped.
    """
    if vendor == "postgresql":
        install = [
            """
            CREATE OR REPLACE FUNCTION accounts_role_graph_touch() RETURNS trigger AS $$
            BEGIN
                INSERT INTO accounts_rolegraphstamp (id, token)
                VALUES (1, md5(random()::text || clock_timestamp()::text || txid_current()::text))
                ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token;
                RETURN NULL;
            END
            $$ LANGUAGE plpgsql
            """
        ]
        remove = []
        for table in ROLE_GRAPH_TABLES:
            install.append(
                f"CREATE OR REPLACE TRIGGER {table}_graph_touch "
                f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION accounts_role_graph_touch()"
            )
            remove.append(f"DROP TRIGGER IF EXISTS {table}_graph_touch ON {table}")
        remove.append("DROP FUNCTION IF EXISTS accounts_role_graph_touch()")
        return install, remove
    install, remove = [], []
    touch = (
        "INSERT OR REPLACE INTO accounts_rolegraphstamp (id, token) "
        "VALUES (1, lower(hex(randomblob(16))))"
    )
    for table in ROLE_GRAPH_TABLES:
        for operation in ("INSERT", "UPDATE", "DELETE"):
            name = f"{table}_graph_touch_{operation.lower()}"
            install.append(
                f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {operation} ON {table} "
                f"BEGIN {touch}; END"
            )
            remove.append(f"DROP TRIGGER IF EXISTS {name}")
    return install, remove
