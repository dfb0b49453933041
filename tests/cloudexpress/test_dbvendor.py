"""PostgreSQL-only behaviour and its SQLite path, side by side."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db import connections, transaction

from cloudexpress import dbvendor
from tests.support.processes import database_url_for_processes

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sqlite"])


def _other_connection() -> psycopg.Connection:
    return psycopg.connect(database_url_for_processes(), autocommit=True)


def test_transaction_lock_blocks_a_second_postgresql_writer_until_commit() -> None:
    assert dbvendor.is_postgresql()
    key = dbvendor._lock_key("chain:test")
    acquired = threading.Event()
    with transaction.atomic():
        dbvendor.lock_for_transaction("chain:test")
        with _other_connection() as other:
            assert other.execute("SELECT pg_try_advisory_xact_lock(%s)", [key]).fetchone() == (
                False,
            )

            def wait_for_lock() -> None:
                with _other_connection() as waiter, waiter.transaction():
                    waiter.execute("SELECT pg_advisory_xact_lock(%s)", [key])
                    acquired.set()

            thread = threading.Thread(target=wait_for_lock)
            thread.start()
            assert not acquired.wait(0.5)
    thread.join(10)
    assert acquired.is_set()


def test_session_lock_refuses_a_second_holder_on_postgresql() -> None:
    assert dbvendor.try_lock_for_session("run:test")
    with _other_connection() as other:
        key = dbvendor._lock_key("run:test")
        assert other.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone() == (False,)
        dbvendor.unlock_session("run:test")
        assert other.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone() == (True,)


def test_sqlite_path_relies_on_immediate_transactions() -> None:
    assert not dbvendor.is_postgresql("sqlite")
    assert connections["sqlite"].settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    with transaction.atomic(using="sqlite"):
        dbvendor.lock_for_transaction("chain:test", using="sqlite")
        assert dbvendor.try_lock_for_session("run:test", using="sqlite")
        dbvendor.unlock_session("run:test", using="sqlite")


# --- the ingest's bulk writes, on both paths ---------------------------------

BOTH = pytest.mark.parametrize("using", ["default", "sqlite"])


@BOTH
def test_rows_copy_stores_values_as_given_and_returns_ids_in_order(using: str) -> None:
    import datetime as dt
    import uuid

    from audit.models import IngestedLine, SecurityEvent

    at = dt.datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=dt.UTC)
    names = ("public_id", "occurred_at", "event_type", "severity", "ip", "user_agent")
    names += ("request_id", "system_actor", "detail", "risk_factors", "personal_salt")
    names += ("personal_digest", "prev_hash", "row_hash", "seq")
    rows = [
        (
            uuid.uuid4(),
            at + dt.timedelta(seconds=index),
            "ssh.failed",
            "low",
            "2001:db8::1" if index else "203.0.113.9",
            "tab\there, newline\nthere, backslash \\ and ünïcode",
            "",
            "ingest:test",
            {"username": f"user{index}", "nested": {"n": index, "ok": True}},
            {"score": 15},
            bytes(range(16)),
            "d" * 64,
            "p" * 64,
            "r" * 64,
            1000 + index,
        )
        for index in range(3)
    ]
    ids = dbvendor.rows_copy(SecurityEvent, names, rows, returning_ids=True, using=using)

    assert len(ids) == 3 and len(set(ids)) == 3
    stored = {event.pk: event for event in SecurityEvent.objects.using(using).filter(pk__in=ids)}
    for pk, row in zip(ids, rows, strict=True):
        event = stored[pk]
        for name, value in zip(names, row, strict=True):
            got = getattr(event, name)
            assert (bytes(got) if name == "personal_salt" else got) == value, name

    lines = dbvendor.rows_copy(
        IngestedLine,
        ("fingerprint", "event_id", "source", "ingested_at"),
        [("f" * 64, ids[0], "test", at)],
        using=using,
    )
    assert lines == []
    assert IngestedLine.objects.using(using).get().event_id == ids[0]


@BOTH
def test_values_present_finds_exactly_the_stored_values(using: str) -> None:
    from audit.models import IngestedLine

    stored = [f"{index:064x}" for index in range(1500)]
    IngestedLine.objects.using(using).bulk_create(
        [IngestedLine(fingerprint=value, event_id=1, source="t") for value in stored]
    )
    asked = stored[::3] + [f"{index:064x}" for index in range(5000, 6000)]
    assert dbvendor.values_present(IngestedLine, "fingerprint", asked, using=using) == set(
        stored[::3]
    )
    assert dbvendor.values_present(IngestedLine, "fingerprint", [], using=using) == set()


@BOTH
def test_counts_add_creates_then_adds_and_keeps_the_latest_time(using: str) -> None:
    import datetime as dt

    from audit.models import SignInProfileEntry

    early = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    late = early + dt.timedelta(days=1)
    keys = ("subject", "feature", "value")
    dbvendor.counts_add(
        SignInProfileEntry,
        keys,
        [("user:1", "ip", "203.0.113.1", 2, late), ("*", "_total", "", 5, early)],
        using=using,
    )
    dbvendor.counts_add(
        SignInProfileEntry,
        keys,
        [("user:1", "ip", "203.0.113.1", 3, early), ("*", "_total", "", 1, late)],
        using=using,
    )
    rows = {
        (row.subject, row.feature): (row.count, row.last_seen_at)
        for row in SignInProfileEntry.objects.using(using).all()
    }
    assert rows == {("user:1", "ip"): (5, late), ("*", "_total"): (6, late)}


@BOTH
def test_any_of_matches_like_in_with_one_parameter(using: str) -> None:
    from django.db import connections
    from django.db.models import F
    from django.test.utils import CaptureQueriesContext

    from audit.models import SignInProfileEntry

    SignInProfileEntry.objects.using(using).bulk_create(
        [SignInProfileEntry(subject=f"user:{i}", feature="ip", value="x") for i in range(50)]
    )
    wanted = [f"user:{i}" for i in range(0, 50, 7)] + ["user:nobody", 'it\'s "quoted"']
    queryset = (
        SignInProfileEntry.objects.using(using)
        .filter(dbvendor.AnyOf(F("subject"), wanted))
        .values_list("subject", flat=True)
    )
    with CaptureQueriesContext(connections[using]) as queries:
        found = set(queryset)
    assert found == {f"user:{i}" for i in range(0, 50, 7)}
    assert len(queries) == 1
    # Nine values, one bound parameter.
    _, params = queryset.query.get_compiler(using).as_sql()
    assert len(params) == 1


def test_sqlite_median_matches_statistics_median() -> None:
    with connections["sqlite"].cursor() as cursor:
        cursor.execute(
            "SELECT MEDIAN(v) FROM (SELECT 1 AS v UNION ALL SELECT 4 UNION ALL SELECT 3 "
            "UNION ALL SELECT 10.5 UNION ALL SELECT NULL)"
        )
        assert cursor.fetchone() == (3.5,)
        cursor.execute("SELECT MEDIAN(v) FROM (SELECT NULL AS v)")
        assert cursor.fetchone() == (None,)
