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
