"""The operations page: who reaches it, what it shows about background jobs,
the beat schedule and capacity, and that its query count does not grow with
the job runs."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.services import roles_builtin_ensure
from audit.models import SecurityEvent
from cloudexpress.beat import BEAT_SCHEDULE
from compliance.models import JobRun
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator() -> Any:
    return OrganizationFactory(slug=settings.OPERATOR_ORGANIZATION_SLUG, is_operator=True)


def signed_in(organization: Any, kind: str) -> Client:
    user = UserFactory()
    MembershipFactory(user=user, organization=organization, role=roles_builtin_ensure()[kind])
    client = Client()
    client.force_login(user)
    return client


def _table(html: str, table_id: str) -> str:
    return html[html.index(f'id="{table_id}"') :].split("</table>")[0]


def _runs(count: int, *, job: str = "backup") -> None:
    now = timezone.now()
    JobRun.objects.bulk_create(
        JobRun(
            job=job,
            slot=f"{job}-{i}",
            status=JobRun.Status.DONE if i % 3 else JobRun.Status.FAILED,
            started_at=now - timedelta(minutes=10 + i),
            finished_at=now - timedelta(minutes=9 + i),
            counts={"rows": i},
            error="" if i % 3 else "DiskFull",
        )
        for i in range(count)
    )


def test_only_operator_admins_reach_the_operations_page(operator: Any) -> None:
    assert Client().get("/operations/").status_code == 302
    admin = signed_in(operator, "admin")
    assert admin.get("/operations/").status_code == 200

    # A member of the operator, and an admin of a customer organization, are
    # refused, and each refusal is a recorded security event.
    denials = SecurityEvent.objects.filter(event_type="access.permission_denied")
    before = denials.count()
    assert signed_in(operator, "member").get("/operations/").status_code == 403
    assert signed_in(OrganizationFactory(), "admin").get("/operations/").status_code == 403
    assert denials.count() == before + 2


def test_the_page_lists_job_runs_with_status_counts_and_duration(operator: Any) -> None:
    now = timezone.now()
    JobRun.objects.create(
        job="retention",
        slot="2026-12-01",
        status=JobRun.Status.DONE,
        started_at=now - timedelta(minutes=5),
        finished_at=now - timedelta(minutes=5) + timedelta(seconds=42),
        counts={"usage_data": 40},
    )
    JobRun.objects.create(
        job="compliance.run_checks", slot="2026-12-02", status=JobRun.Status.RUNNING
    )
    JobRun.objects.create(job="backup", status=JobRun.Status.FAILED, error="DiskFull")
    JobRun.objects.create(job="heartbeat", status=JobRun.Status.QUEUED)

    response = signed_in(operator, "admin").get("/operations/")
    html = response.content.decode()
    runs = _table(html, "table-runs")

    assert runs.count('class="run-row"') == 4
    retention = runs[runs.index(">retention<") :].split("</tr>")[0]
    assert "42.0 s" in retention and "usage_data=40" in retention and "Done" in retention
    assert "Running" in runs and "Queued" in runs and "DiskFull" in runs
    outcomes = {
        status: int(re.search(rf'id="outcome-{status}">(\d+)<', html).group(1))
        for status in ("queued", "running", "done", "failed")
    }
    assert outcomes == {"queued": 1, "running": 1, "done": 1, "failed": 1}


def test_the_page_shows_the_beat_schedule_and_capacity_with_thresholds(operator: Any) -> None:
    JobRun.objects.create(
        job="heartbeat",
        status=JobRun.Status.DONE,
        started_at=timezone.now() - timedelta(seconds=20),
        finished_at=timezone.now() - timedelta(seconds=19),
    )
    html = signed_in(operator, "admin").get("/operations/").content.decode()

    schedule = _table(html, "table-schedule")
    for name in BEAT_SCHEDULE:
        assert f'<th scope="row">{name}</th>' in schedule
    retention = schedule[schedule.index(">retention<") :].split("</tr>")[0]
    assert "cron 30 2 (UTC)" in retention and "02:30" in retention
    heartbeat = schedule[schedule.index(">heartbeat<") :].split("</tr>")[0]
    assert f"every {settings.HEARTBEAT_SECONDS / 60:g} min" in heartbeat
    assert "never" not in heartbeat

    capacity = _table(html, "table-capacity")
    depth = capacity[capacity.index("Queue depth") :].split("</tr>")[0]
    limit = settings.CAPACITY_THRESHOLDS["queue_depth_max"]
    assert f"{limit} messages" in depth and "within" in depth
    assert "Database size" in capacity and "Request latency p95" in capacity
    assert "Server error rate" in capacity


def test_the_page_runs_under_the_strict_content_security_policy(operator: Any) -> None:
    response = signed_in(operator, "admin").get("/operations/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "<script>" not in response.content.decode()
    assert (
        response["Cache-Control"].startswith("max-age=0")
        or "no-store" in response["Cache-Control"]
    )


def test_the_navigation_links_to_the_operations_page_for_those_who_may_open_it(
    operator: Any,
) -> None:
    html = signed_in(operator, "admin").get("/").content.decode()
    assert 'href="/operations/"' in html
    # A member lacks settings.manage: the page would answer 403.
    html = signed_in(operator, "member").get("/").content.decode()
    assert 'href="/operations/"' not in html


def _queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/operations/").status_code == 200
    return len(captured)


def test_operations_page_runs_the_same_queries_for_few_and_many_runs(operator: Any) -> None:
    admin = signed_in(operator, "admin")
    _runs(3)
    _queries(admin)  # warm the session's once-per-request lookups
    few = _queries(admin)

    _runs(80, job="audit.detection_run")
    _runs(40, job="retention")
    many = _queries(admin)

    assert few == many
    assert few <= 16
