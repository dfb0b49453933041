"""Benchmark: /dashboard/ latency under 20 concurrent clients against gunicorn
with a uvicorn worker on loopback, with many security events stored.

The events are written by one INSERT ... SELECT generate_series (the
dashboard reads no event chain, so the rows need no valid hashes). Each
client signs in with its own session and requests the dashboard in a loop.
BENCH_EVENTS sets the number of events (default 1,000,000).

Run: pytest tests/bench/bench_dashboard_load.py -q -s
"""

from __future__ import annotations

import http.client
import os
import resource
import socket
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from accounts.services import roles_builtin_ensure
from audit.models import SecurityEvent
from compliance.runs import checks_run
from tests.bench.report import finish, report
from tests.conftest import ARTIFACTS
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.support.processes import BIN, ROOT, process_env, stop_process_group

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = int(os.environ.get("BENCH_EVENTS", "1000000"))
CLIENTS = 20
# 2,000 requests in all: enough for a p95 that holds from run to run.
REQUESTS_PER_CLIENT = 100
# Django runs a sync view of an ASGI worker on one thread per process, so a
# process serves one request at a time and waits idle on each query: two
# workers per core keep the cores busy while the others wait on PostgreSQL.
WORKERS = int(os.environ.get("BENCH_WORKERS", str(2 * (os.cpu_count() or 1))))
TARGET_P95_MS = 200.0


def _events_insert(count: int) -> float:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO audit_securityevent (
                seq, prev_hash, row_hash, public_id, occurred_at, event_type, severity,
                system_actor, request_id, user_agent, detail, risk_factors, risk_score,
                personal_digest
            )
            SELECT n, '', md5(n::text), gen_random_uuid(),
                   now() - (n || ' seconds')::interval,
                   CASE WHEN n %% 2 = 0 THEN %s ELSE %s END, 'info',
                   'bench', '', '', '{}', '{}', 10, ''
            FROM generate_series(1, %s) AS n
            """,
            [SecurityEvent.Type.SIGN_IN_SUCCEEDED, SecurityEvent.Type.SIGN_IN_FAILED, count],
        )
        # Vacuumed now, not by autovacuum in the middle of the figures (a
        # million inserted rows pass its insert threshold): that run took a
        # core for seconds and made the latencies swing by half from one run
        # to the next. A table in service is vacuumed as routine.
        cursor.execute("VACUUM (ANALYZE) audit_securityevent")
    return time.perf_counter() - started


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_up(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "gunicorn exited"
        try:
            connection_ = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection_.request("GET", "/healthz")
            if connection_.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)  # polling a starting server, not waiting for time
    raise AssertionError("gunicorn did not start")


def _client_loop(conn: http.client.HTTPConnection, cookie: str) -> list[float]:
    timings = []
    for _ in range(REQUESTS_PER_CLIENT):
        started = time.perf_counter()
        conn.request("GET", "/dashboard/", headers={"Cookie": cookie})
        response = conn.getresponse()
        body = response.read()
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status == 200, response.status
        assert b'id="figure-score"' in body
    conn.close()
    return timings


def _cookie_set(response: http.client.HTTPResponse, name: str) -> str:
    """The value a response sets for one cookie, or ''."""
    for header in response.headers.get_all("Set-Cookie") or []:
        pair = header.split(";", 1)[0]
        if pair.startswith(f"{name}="):
            return pair.split("=", 1)[1]
    return ""


def _process_group_cpu(leader: int) -> float:
    """CPU seconds (user and system) of gunicorn's master and its workers,
    read from /proc while they run."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the name: state, ppid, pgrp, ... utime (12th), stime (13th).
        if int(fields[2]) == leader:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def _session_cookies(count: int) -> list[str]:
    operator = OrganizationFactory(slug=settings.OPERATOR_ORGANIZATION_SLUG, is_operator=True)
    cookies = []
    for _ in range(count):
        user = UserFactory()
        MembershipFactory(user=user, organization=operator, role=roles_builtin_ensure()["member"])
        client = Client()
        client.force_login(user)
        name = settings.SESSION_COOKIE_NAME
        cookies.append(f"{name}={client.cookies[name].value}")
    return cookies


def test_dashboard_p95_under_20_concurrent_clients() -> None:
    insert_seconds = _events_insert(EVENTS)
    checks_run()
    cookies = _session_cookies(CLIENTS)
    port = _free_port()
    log = open(ARTIFACTS / "bench-dashboard-gunicorn.log", "w")
    proc = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "cloudexpress.asgi:application",
            "-k",
            "uvicorn.workers.UvicornWorker",
            "-w",
            str(WORKERS),
            "-b",
            f"127.0.0.1:{port}",
            # deploy/gunicorn.conf.py's keep-alive: with gunicorn's own two
            # seconds, the first client's connection was sometimes closed
            # while the other nineteen warmed up (RemoteDisconnected).
            "--keep-alive",
            "5",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        # A connection pool per worker (persistent connections are not
        # reused under ASGI): without one every request opens, and
        # PostgreSQL forks, a connection. deploy/gunicorn.conf.py sets the
        # same variable for production.
        env=process_env(LOG_LEVEL="WARNING", DATABASE_POOL_MAX_SIZE="4"),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_up(port, proc)
        # One warm-up request per session, outside the figures: a session's
        # first request records where it came from and fills the page cache.
        # The clients then keep the CSRF cookie that answer set, as a browser
        # does, so the server does not mint a new one on every page.
        # The clients connect one after another, as users arrive, and keep
        # their connection. Twenty connections opened in the same instant
        # are not how users come, and one uvicorn worker accepts every
        # connection waiting when it wakes: most of them landed on one
        # worker, which then served them at one core while the others idled.
        first = []
        connections = []
        for index, cookie in enumerate(cookies):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            began = time.perf_counter()
            conn.request("GET", "/dashboard/", headers={"Cookie": cookie})
            response = conn.getresponse()
            response.read()
            first.append((time.perf_counter() - began) * 1000)
            connections.append(conn)
            csrf = _cookie_set(response, settings.CSRF_COOKIE_NAME)
            assert csrf, "the dashboard set no CSRF cookie"
            cookies[index] = f"{cookie}; {settings.CSRF_COOKIE_NAME}={csrf}"
        print(
            f"first request per session: max {max(first):.0f} ms, median "
            f"{statistics.median(first):.0f} ms"
        )
        server_cpu = _process_group_cpu(proc.pid)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            results: list[Any] = list(pool.map(_client_loop, connections, cookies))
        wall = time.perf_counter() - started
        server_cpu = _process_group_cpu(proc.pid) - server_cpu
        load = os.getloadavg()
        for conn in connections:
            conn.close()
    finally:
        stop_process_group(proc)
        log.close()

    timings = sorted(t for client in results for t in client)

    def percentile(share: float) -> float:
        return timings[max(int(len(timings) * share) - 1, 0)]

    p50, p95, p99 = percentile(0.50), percentile(0.95), percentile(0.99)
    print(
        f"events={EVENTS} insert={insert_seconds:.1f}s requests={len(timings)} "
        f"workers={WORKERS} wall={wall:.1f}s p50={p50:.0f}ms p95={p95:.0f}ms p99={p99:.0f}ms "
        f"server_cpu={server_cpu:.1f}s ({server_cpu * 1000 / len(timings):.1f} ms/request) "
        f"client_cpu={resource.getrusage(resource.RUSAGE_SELF).ru_utime:.1f}s "
        f"load={load[0]:.1f} on {os.cpu_count()} CPUs"
    )
    report(
        f"dashboard p95 latency, {CLIENTS} clients, {EVENTS:,} events",
        p95,
        "ms",
        target=f"< {TARGET_P95_MS:.0f} ms",
        ok=p95 < TARGET_P95_MS,
    )
    report("dashboard median latency", statistics.median(timings), "ms", target="-", ok=True)
    report("dashboard p99 latency", p99, "ms", target="-", ok=True)
    report(
        "dashboard server CPU per request",
        server_cpu * 1000 / len(timings),
        "ms",
        target="-",
        ok=True,
    )
    report("dashboard throughput", len(timings) / wall, "req/s", target="-", ok=True)
    finish()
