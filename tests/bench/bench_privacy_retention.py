"""Benchmark: retention of 1,000,000 expired rows against one raw DELETE.

    DJANGO_ENV=test pytest -p no:cacheprovider tests/bench/bench_privacy_retention.py -s

Prints the ratio raw-DELETE time / retention time (target: at least 0.5)
and the slowest batch (target: under 1 s). Usage records are the table:
not archived, not chained, so the figure is the batching itself.
"""

from __future__ import annotations

import os
import time

import pytest
from django.db import connection

from compliance.models import ApiUsage, DataType, RetentionBatch
from compliance.privacy import retention
from compliance.privacy.policies import retention_policies_ensure
from tests import factories
from tests.bench.report import finish, report

ROWS = int(os.environ.get("BENCH_RETENTION_ROWS", "1000000"))


def _fill(organization_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO compliance_apiusage (organization_id, endpoint, day, count) "
            "SELECT %s, 'GET /e' || (g %% 1000), date '2020-01-01' + (g / 1000), 1 "
            "FROM generate_series(0, %s - 1) AS g",
            [organization_id, ROWS],
        )
    # Same footing for both contenders: hint bits set, statistics fresh.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE compliance_apiusage")


@pytest.mark.django_db(transaction=True)
def test_bench_retention_against_raw_delete() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("benchmarks run on PostgreSQL")
    organization = factories.OrganizationFactory()

    retention_policies_ensure()  # not part of the deletion

    # Each contender on its own fresh, vacuumed fill of the same rows.
    _fill(organization.pk)
    started, cpu_started = time.perf_counter(), time.process_time()
    run = retention.retention_execute()
    retention_seconds = time.perf_counter() - started
    retention_cpu = time.process_time() - cpu_started
    with connection.cursor() as cursor:
        cursor.execute("VACUUM compliance_apiusage")

    _fill(organization.pk)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM compliance_apiusage WHERE day < date '2024-01-01'")
        assert cursor.rowcount == ROWS
    raw_seconds = time.perf_counter() - started

    assert run.counts[DataType.USAGE_DATA] == ROWS
    assert not ApiUsage.objects.exists()
    batches = RetentionBatch.objects.filter(run=run, data_type=DataType.USAGE_DATA)
    durations = list(batches.values_list("duration_ms", flat=True))
    slowest_ms = max(durations)
    ratio = raw_seconds / retention_seconds
    print(
        f"\nretention bench: {ROWS} rows; raw DELETE {raw_seconds:.2f} s; "
        f"retention {retention_seconds:.2f} s (CPU in this process {retention_cpu:.2f} s) "
        f"in {batches.count()} batches of "
        f"{retention.batch_size()} (batches {sum(durations) / 1000:.2f} s); "
        f"ratio {ratio:.2f}x (target >= 0.5); "
        f"slowest batch {slowest_ms} ms (target < 1000)"
    )
    report(
        f"retention of {ROWS:,} rows",
        retention_seconds,
        "s",
        target=">= 0.5x raw DELETE speed",
        ok=ratio >= 0.5,
        ratio=ratio,
        baseline="one raw DELETE",
    )
    report("retention slowest batch", slowest_ms, "ms", target="< 1000 ms", ok=slowest_ms < 1000)
    finish()
    assert slowest_ms < 1000
