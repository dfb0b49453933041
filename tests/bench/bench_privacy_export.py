"""Benchmark: GDPR export of a user with 100,000 security events, with the
peak memory growth of the process over its idle size (target: < 100 MB).

    DJANGO_ENV=test pytest -p no:cacheprovider tests/bench/bench_privacy_export.py -s

Peak memory is the kernel's high-water mark (VmHWM), reset just before the
export through /proc/self/clear_refs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests import factories
from tests.bench.report import finish, report

EVENTS = int(os.environ.get("BENCH_EXPORT_EVENTS", "100000"))


def _status_kb(name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise LookupError(name)


@pytest.mark.django_db(transaction=True)
def test_bench_export_memory_stays_flat() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("benchmarks run on PostgreSQL")
    user = factories.UserFactory()
    with connection.cursor() as cursor:
        # Bulk rows for size only: their chain hashes are not computed.
        cursor.execute(
            "INSERT INTO audit_securityevent (seq, prev_hash, row_hash, public_id, occurred_at, "
            "event_type, severity, actor_id, actor_pk, system_actor, ip, user_agent, request_id, "
            "detail, risk_factors, personal_digest) SELECT 1000000 + g, '', '', "
            "md5(g::text)::uuid, "
            "now() - g * interval '1 minute', 'auth.sign_in_succeeded', 'info', %s, %s, '', "
            "('198.51.100.' || (g %% 250))::inet, 'BenchBrowser/1.0 (X11; Linux x86_64)', "
            "md5(g::text), jsonb_build_object('path', '/accounts/login/', 'n', g), '{}', "
            "md5(g::text || 'digest') FROM generate_series(1, %s) AS g",
            [user.pk, user.pk, EVENTS],
        )
    client = APIClient()
    client.force_authenticate(user)

    Path("/proc/self/clear_refs").write_text("5")
    idle_kb = _status_kb("VmRSS")
    started, cpu_started = time.perf_counter(), time.process_time()
    response = client.get(f"/api/compliance/gdpr/export/{user.public_id}")
    size = lines = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += chunk.count(b"\n")
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    growth_mb = (_status_kb("VmHWM") - idle_kb) / 1024

    assert lines >= EVENTS + 3
    print(
        f"\nexport bench: {EVENTS} events, {lines} lines, {size / 1e6:.1f} MB in "
        f"{seconds:.1f} s (CPU in this process {cpu_seconds:.1f} s); "
        f"peak memory growth {growth_mb:.1f} MB (target < 100)"
    )
    report(
        f"GDPR export of {EVENTS:,} events, memory growth",
        growth_mb,
        "MB",
        target="< 100 MB",
        ok=growth_mb < 100,
    )
    finish()
    assert growth_mb < 100
