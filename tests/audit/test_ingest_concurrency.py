"""Two importers and two detection runs at once, on separate PostgreSQL
connections: exact counts, one chain, no alert twice."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections

from audit import chain, verification
from audit.detection.engine import detection_run
from audit.detection.ingest import events_ingest, parse_jsonl
from audit.models import Alert, IngestedLine, SecurityEvent

pytestmark = pytest.mark.django_db(transaction=True)


def _lines(count: int) -> list[str]:
    return [
        json.dumps(
            {
                "type": "auth.sign_in_failed",
                "occurred_at": f"2026-11-20T10:{index // 60:02d}:{index % 60:02d}Z",
                "ip": f"198.51.100.{index % 3}",
                "detail": {"username": f"user{index % 7}"},
            }
        )
        for index in range(count)
    ]


def _together(work: Callable[[], Any], threads: int = 2) -> list[Any]:
    barrier = threading.Barrier(threads)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            results.append(work())
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not errors, errors
    return results


def test_two_importers_of_one_file_store_each_line_once() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL")
    lines = _lines(600)
    results = _together(
        lambda: events_ingest(parse_jsonl(lines), source="race", batch_size=100, detect=False)
    )
    assert sum(r.added for r in results) == 600
    assert SecurityEvent.objects.count() == 600
    assert IngestedLine.objects.count() == 600
    assert list(SecurityEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, 601)
    )
    previous = chain.GENESIS
    for event in SecurityEvent.objects.order_by("seq"):
        assert event.prev_hash == previous
        assert chain.compute_hash(previous, event) == event.row_hash
        previous = event.row_hash


def test_an_import_and_single_records_at_once_share_one_verified_chain() -> None:
    """The bulk path and the one-row insert take the same head-row lock."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL")
    from audit.services import security_event_record

    def singles() -> int:
        for _ in range(60):
            security_event_record(event_type="auth.signed_out")
        return 60

    def bulk() -> int:
        return events_ingest(
            parse_jsonl(_lines(300)), source="race", batch_size=20, detect=False
        ).added

    jobs = [singles, bulk]
    guard = threading.Lock()

    def next_job() -> int:
        with guard:
            job = jobs.pop()
        return job()

    assert sorted(_together(next_job)) == [60, 300]
    assert list(SecurityEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, 361)
    )
    report = verification.verify_chain(SecurityEvent)
    assert report.ok, report.problem
    assert report.rows == 360


def test_two_detection_runs_at_once_raise_each_alert_once() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL")
    events_ingest(parse_jsonl(_lines(300)), source="race", detect=False)
    results = _together(detection_run)
    created = sum(result.get("alerts_created", 0) for result in results)
    assert created == Alert.objects.count()
    # Three addresses burst; the accounts and spraying rules see them too.
    assert Alert.objects.filter(rule="brute_force_ip").count() == 3
    assert sum(result.get("events", 0) for result in results) == 300
