"""Benchmark: a full compliance run over 10,000 users, 1,000 organizations
and 1,000,000 security events on PostgreSQL.

The data is written in bulk (generate_series for users, organizations and
memberships; COPY for the events, whose hash chain is computed here so the
chain check does its full work and passes). The run is timed at two sizes,
and the number of queries of every check must be the same at both.

Run: pytest tests/bench/bench_compliance_run.py -q -s
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from accounts.services import roles_builtin_ensure
from audit import chain
from audit.models import SecurityEvent
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
)


class _Row:
    """A stand-in event row for chain.compute_hash."""

    _meta = SecurityEvent._meta


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
                                             status, created_at, updated_at)
            SELECT gen_random_uuid(), u.id, o.id,
                   CASE WHEN u.rn <= %(orgs)s THEN %(owner)s ELSE %(member)s END,
                   CASE WHEN u.terminated_at IS NULL THEN 'active' ELSE 'revoked' END,
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

    # Security events with a valid chain, spread over the last year.
    types = [SecurityEvent.Type.SIGN_IN_SUCCEEDED, SecurityEvent.Type.SIGN_IN_FAILED]
    row = _Row()
    prev = chain.GENESIS
    step = timedelta(days=365) / size["events"]
    start = now - timedelta(days=365, hours=1)
    columns = (
        "seq",
        "prev_hash",
        "row_hash",
        "public_id",
        "occurred_at",
        "event_type",
        "severity",
        "system_actor",
        "request_id",
        "user_agent",
        "detail",
        "risk_factors",
        "risk_score",
    )
    raw = connection.connection  # psycopg 3
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY audit_securityevent ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for seq in range(1, size["events"] + 1):
            row.seq = seq
            row.public_id = uuid.uuid4()
            row.occurred_at = start + step * seq
            row.event_type = types[seq % 2]
            row.severity = "info"
            row.system_actor = "bench"
            row.request_id = ""
            row_hash = chain.compute_hash(prev, row)  # type: ignore[arg-type]
            copy.write_row(
                (
                    seq,
                    prev,
                    row_hash,
                    row.public_id,
                    row.occurred_at,
                    row.event_type,
                    "info",
                    "bench",
                    "",
                    "",
                    "{}",
                    "{}",
                    10,
                )
            )
            prev = row_hash
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


def _run() -> tuple[float, dict[str, int], dict[str, float], Any]:
    started = time.perf_counter()
    run = checks_run(trigger="bench")
    elapsed = time.perf_counter() - started
    rows = Result.objects.filter(run=run).values_list("check_id", "query_count", "duration_ms")
    queries = {check_id: count for check_id, count, _ in rows}
    durations = {check_id: ms for check_id, _, ms in rows}
    return elapsed, queries, durations, run


def test_full_run_time_and_queries_per_check() -> None:
    build_small = _build(SMALL)
    small_time, small_queries, _, _ = _run()

    build_full = _build(FULL)
    full_time, full_queries, durations, run = _run()
    chain_result = Result.objects.get(run=run, check_id="cc-audit-chain")

    print(f"\nbuilt {SMALL} in {build_small:.1f} s, {FULL} in {build_full:.1f} s")
    print(
        f"run at small size: {small_time:.2f} s; at full size: {full_time:.2f} s "
        f"(score {run.score:.3f}, chain check {chain_result.status}, "
        f"{chain_result.evidence['tables']['audit.SecurityEvent']['rows']} events verified)"
    )
    print(f"{'check':32} {'queries small':>14} {'queries full':>13} {'ms full':>9}")
    for check_id in sorted(full_queries, key=lambda c: -durations[c]):
        print(
            f"{check_id:32} {small_queries[check_id]:>14} {full_queries[check_id]:>13} "
            f"{durations[check_id]:>9.1f}"
        )
    grew = sorted(c for c in full_queries if full_queries[c] != small_queries.get(c))

    report(
        "compliance run, 1M events",
        full_time,
        "s",
        target=f"< {TARGET_SECONDS:.0f} s",
        ok=full_time < TARGET_SECONDS,
        ratio=full_time / small_time,
        baseline="vs 100k events",
    )
    report(
        "compliance run, checks whose queries grow with rows",
        len(grew),
        "checks",
        target="0",
        ok=not grew,
    )
    report(
        "compliance run, queries per check (max)",
        max(full_queries.values()),
        "queries",
        target="same at both sizes",
        ok=not grew,
    )
    # The generated events must verify in full; the few audit entries that
    # roles_builtin_ensure wrote are judged by the audit app's own chain.
    events = chain_result.evidence["tables"]["audit.SecurityEvent"]
    assert events["rows"] == FULL["events"] and events["breaks"] == 0, events
    assert not grew, grew
    finish()
