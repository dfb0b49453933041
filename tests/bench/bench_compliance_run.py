"""Benchmark: a full compliance run over 10,000 users, 1,000 organizations
and 1,000,000 security events on PostgreSQL.

The data is written in bulk (generate_series for users, organizations and
memberships; COPY for the events, whose hash chain is computed here so the
chain check does its full work and passes). The run is timed at two sizes,
and the number of queries of every check must be the same at both. Each
check's wall time, this process's CPU time and the PostgreSQL backend's CPU
time are printed; the test fails (and exits non-zero) when the full run
misses the target or a check's query count grows with the rows.

Run: pytest tests/bench/bench_compliance_run.py -q -s
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from accounts.services import roles_builtin_ensure
from audit import chain
from audit.models import SecurityEvent
from compliance.checks import registry
from compliance.models import Result
from compliance.runs import checks_run

try:
    from tests.bench.report import finish, report
except ImportError:  # the shared reporter lands with make bench

    def report(
        name: str,
        value: float,
        unit: str,
        *,
        target: str,
        ok: bool,
        ratio: float | None = None,
        baseline: str = "",
    ) -> None:
        line = {
            "name": name,
            "value": round(value, 4),
            "unit": unit,
            "target": target,
            "ok": bool(ok),
            "ratio": None if ratio is None else round(ratio, 3),
            "baseline": baseline,
        }
        print("BENCH " + json.dumps(line), flush=True)

    def finish() -> None:
        return None


pytestmark = pytest.mark.django_db(transaction=True)

FULL = {"users": 10_000, "organizations": 1_000, "events": 1_000_000}
SMALL = {"users": 1_000, "organizations": 100, "events": 100_000}
TARGET_SECONDS = 30.0
# A fixed Argon2-shaped placeholder: these users never sign in.
PASSWORD = "!unusable-benchmark-password"
TABLES = (
    "accounts_membership",
    "accounts_usersession",
    "accounts_user",
    "accounts_organization",
    "audit_securityevent",
    # The audit trail refers to users, so TRUNCATE ... CASCADE empties it:
    # the chains' head rows and anchors go with it, and are rebuilt from
    # the tables on the next write.
    "audit_auditlogentry",
    "audit_chainhead",
    "audit_anchor",
)


def _reset() -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE " + ", ".join(TABLES) + " RESTART IDENTITY CASCADE")


def _build(size: dict[str, int]) -> float:
    started = time.perf_counter()
    _reset()
    roles = roles_builtin_ensure()
    now = datetime.now(UTC)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO accounts_organization (public_id, name, slug, is_operator, require_mfa,
                                               created_at, updated_at)
            SELECT gen_random_uuid(), 'Organization ' || n,
                   CASE WHEN n = 1 THEN 'cloudexpress' ELSE 'org-' || n END,
                   n = 1, false, now(), now()
            FROM generate_series(1, %s) AS n
            """,
            [size["organizations"]],
        )
        # One in fifty users has left: inactive, and without sessions.
        cursor.execute(
            """
            INSERT INTO accounts_user (password, is_superuser, public_id, email, full_name,
                is_active, is_staff, date_joined, password_changed_at, terminated_at,
                terminated_reason, credentials_version)
            SELECT %s, false, gen_random_uuid(), 'user' || n || '@bench.test', 'User ' || n,
                   n %% 50 <> 0, false, now() - interval '200 days', now() - interval '10 days',
                   CASE WHEN n %% 50 = 0 THEN now() - interval '30 days' END, '', 1
            FROM generate_series(1, %s) AS n
            """,
            [PASSWORD, size["users"]],
        )
        # The first user of each organization owns it; the others are members.
        cursor.execute(
            """
            INSERT INTO accounts_membership (public_id, user_id, organization_id, role_id,
                                             status, revoked_reason, created_at, updated_at)
            SELECT gen_random_uuid(), u.id, o.id,
                   CASE WHEN u.rn <= %(orgs)s THEN %(owner)s ELSE %(member)s END,
                   CASE WHEN u.terminated_at IS NULL THEN 'active' ELSE 'revoked' END,
                   CASE WHEN u.terminated_at IS NULL THEN '' ELSE 'terminated' END,
                   now(), now()
            FROM (SELECT id, terminated_at, row_number() OVER (ORDER BY id) AS rn
                  FROM accounts_user) AS u
            JOIN (SELECT id, row_number() OVER (ORDER BY id) AS rn
                  FROM accounts_organization) AS o
              ON o.rn = ((u.rn - 1) %% %(orgs)s) + 1
            """,
            {
                "orgs": size["organizations"],
                "owner": roles["owner"].pk,
                "member": roles["member"].pk,
            },
        )
        cursor.execute(
            """
            INSERT INTO accounts_usersession (session_key, session_data, expire_date, user_id,
                                              user_agent, created_at, last_seen_at)
            SELECT md5(id::text), '', now() + interval '1 hour', id, 'bench', now(), now()
            FROM accounts_user WHERE terminated_at IS NULL AND id %% 10 = 0
            """,
            [],
        )

    # Security events with a valid chain (content hash and personal digest,
    # as the service writes them), spread over the last year.
    types = [SecurityEvent.Type.SIGN_IN_SUCCEEDED, SecurityEvent.Type.SIGN_IN_FAILED]
    prev = chain.GENESIS
    step = timedelta(days=365) / size["events"]
    start = now - timedelta(days=365, hours=1)
    columns = (
        "seq",
        "prev_hash",
        "row_hash",
        "personal_digest",
        "personal_salt",
        "public_id",
        "occurred_at",
        "event_type",
        "severity",
        "system_actor",
        "request_id",
        "ip",
        "user_agent",
        "detail",
        "risk_factors",
        "risk_score",
    )
    agent = "bench"
    raw = connection.connection  # psycopg 3
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY audit_securityevent ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for seq in range(1, size["events"] + 1):
            ip = f"10.{seq % 250}.{seq % 200}.{seq % 100 + 1}"
            salt = os.urandom(chain.SALT_BYTES)
            digest = chain.personal_digest_of(salt, [ip, agent, {}])
            values = [
                seq,
                uuid.uuid4(),
                start + step * seq,
                types[seq % 2],
                "info",
                None,
                None,
                None,
                "bench",
                "",
                digest,
            ]
            row_hash = chain.row_hash_of(prev, chain.canonical_content(values))
            copy.write_row(
                (
                    seq,
                    prev,
                    row_hash,
                    digest,
                    salt,
                    values[1],
                    values[2],
                    values[3],
                    "info",
                    "bench",
                    "",
                    ip,
                    agent,
                    "{}",
                    "{}",
                    10,
                )
            )
            prev = row_hash
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


def _backend_cpu_seconds(pid: int | None) -> float | None:
    """CPU time the PostgreSQL backend serving this connection has used,
    read from /proc when the server runs on this machine; else None."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # utime and stime, the 14th and 15th fields (11th and 12th after the name).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Profile:
    """What one check cost: wall time, this process's CPU, the database
    backend's CPU, and its query count."""

    wall_ms: float = 0.0
    cpu_ms: float = 0.0
    db_cpu_ms: float | None = None
    queries: int = 0


def _run(monkeypatch: pytest.MonkeyPatch) -> tuple[float, float, dict[str, Profile], Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    profiles: dict[str, Profile] = {}
    evaluate = registry.evaluate

    def profiled(spec: registry.CheckSpec, context: Any = None) -> registry.Evaluation:
        cpu, db_cpu = time.process_time(), _backend_cpu_seconds(backend)
        evaluation = evaluate(spec, context)
        db_after = _backend_cpu_seconds(backend)
        profiles[spec.id] = Profile(
            wall_ms=evaluation.duration_ms,
            cpu_ms=(time.process_time() - cpu) * 1000,
            db_cpu_ms=None if db_cpu is None or db_after is None else (db_after - db_cpu) * 1000,
            queries=evaluation.query_count,
        )
        return evaluation

    monkeypatch.setattr(registry, "evaluate", profiled)
    started, cpu = time.perf_counter(), time.process_time()
    run = checks_run(trigger="bench")
    elapsed, cpu_elapsed = time.perf_counter() - started, time.process_time() - cpu
    monkeypatch.setattr(registry, "evaluate", evaluate)
    return elapsed, cpu_elapsed, profiles, run


def test_full_run_time_and_queries_per_check(monkeypatch: pytest.MonkeyPatch) -> None:
    build_small = _build(SMALL)
    small_time, small_cpu, small, _ = _run(monkeypatch)

    build_full = _build(FULL)
    full_time, full_cpu, full, run = _run(monkeypatch)
    chain_result = Result.objects.get(run=run, check_id="cc-audit-chain")

    print(f"\nbuilt {SMALL} in {build_small:.1f} s, {FULL} in {build_full:.1f} s")
    print(
        f"run at small size: {small_time:.2f} s wall, {small_cpu:.2f} s CPU; at full size: "
        f"{full_time:.2f} s wall, {full_cpu:.2f} s CPU (score {run.score:.3f}, "
        f"chain check {chain_result.status}: {chain_result.reason})"
    )
    print(
        f"{'check':34} {'queries':>7} {'at 10x':>6} {'wall ms':>9} {'CPU ms':>8} {'DB CPU ms':>9}"
    )
    for check_id in sorted(full, key=lambda c: -full[c].wall_ms):
        p = full[check_id]
        db = "-" if p.db_cpu_ms is None else f"{p.db_cpu_ms:.0f}"
        print(
            f"{check_id:34} {small[check_id].queries:>7} {p.queries:>6} {p.wall_ms:>9.1f} "
            f"{p.cpu_ms:>8.1f} {db:>9}"
        )
    grew = sorted(c for c in full if full[c].queries != small[c].queries)

    report(
        "compliance run, 1M events",
        full_time,
        "s",
        target=f"< {TARGET_SECONDS:.0f} s",
        ok=full_time < TARGET_SECONDS,
        ratio=full_time / small_time,
        baseline="vs 100k events",
    )
    report("compliance run CPU (client), 1M events", full_cpu, "s", target="-", ok=True)
    report(
        "compliance run, checks whose queries grow with rows",
        len(grew),
        "checks",
        target="0",
        ok=not grew,
    )
    report(
        "compliance run, queries per check (max)",
        max(p.queries for p in full.values()),
        "queries",
        target="same at both sizes",
        ok=not grew,
    )
    # The generated events must verify, every one of them: the check
    # re-hashes the whole chain on every run (see cc-audit-chain for why).
    events = chain_result.evidence["tables"]["audit.SecurityEvent"]
    assert chain_result.status == "pass", chain_result.reason
    assert events["rows"] == FULL["events"] and events["breaks"] == 0, events
    assert not grew, f"queries grow with rows in: {grew}"
    # Exits non-zero when the time target (or the constant-query rule) is missed.
    finish()
