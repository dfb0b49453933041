"""The executive dashboard: who sees it, that every figure links to a list
of exactly as many items, and that it runs the same queries whatever the data."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.services import roles_builtin_ensure
from compliance.models import ActionItem, Control, JobRun, Run
from compliance.runs import checks_run
from tests.compliance.governance_factories import RiskFactory
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


@pytest.fixture
def officer(operator: Any) -> Client:
    return signed_in(operator, "member")


def _figure(html: str, figure_id: str) -> str:
    match = re.search(rf'id="{figure_id}"[^>]*>([^<]+)<', html)
    assert match, figure_id
    return match.group(1).strip()


def _href(html: str, figure_id: str) -> str:
    match = re.search(rf'<a id="{figure_id}" href="([^"]+)"', html)
    assert match, figure_id
    return match.group(1).replace("&amp;", "&")


def test_dashboard_needs_controls_view_through_the_operator(operator: Any) -> None:
    checks_run()
    assert signed_in(operator, "member").get("/dashboard/").status_code == 200
    # The same role in a customer organization does not reach the operator's
    # programme.
    assert signed_in(OrganizationFactory(), "owner").get("/dashboard/").status_code == 403
    anonymous = Client().get("/dashboard/")
    assert anonymous.status_code == 302
    assert "/accounts/login/" in anonymous["Location"]


def test_each_count_links_to_a_list_of_as_many_items(officer: Client) -> None:
    checks_run()
    RiskFactory(likelihood=3, impact=3)
    html = officer.get("/dashboard/").content.decode()

    failing = int(_figure(html, "figure-failing"))
    assert failing == Run.objects.get().controls_total - Run.objects.get().controls_passing > 0
    listed = officer.get(_href(html, "figure-failing")).content.decode()
    assert listed.count('class="control-row"') == failing

    items = int(_figure(html, "figure-action-items"))
    assert items == ActionItem.objects.exclude(status="closed").count() > 0
    gaps = officer.get(_href(html, "figure-action-items")).content.decode()
    assert gaps.count('class="item-row') == items

    # Every heat map cell's count is the length of the cell's own list.
    cells = re.findall(r'<a class="heat-cell" href="([^"]+)"[^>]*>(\d+)</a>', html)
    assert cells
    assert sum(int(n) for _, n in cells) == failing + 1
    for href, count in cells:
        page = officer.get(href).content.decode()
        assert page.count('class="cell-item"') == int(count), href

    # A category's score links to that category's controls.
    category = re.search(r'href="(/dashboard/controls/\?category=CC)"', html)
    assert category
    page = officer.get(category.group(1)).content.decode()
    assert page.count('class="control-row"') == int(_figure(page, "row-count")) > 0


def test_score_shows_its_change_since_the_last_run_and_last_month(officer: Client) -> None:
    first = checks_run()
    Run.objects.filter(pk=first.pk).update(
        started_at=timezone.now() - timedelta(days=40), score=0.25
    )
    second = checks_run()
    html = officer.get("/dashboard/").content.decode()

    points = round((second.score - 0.25) * 100, 1)
    assert f"Since the last run: {points:+.1f} points (run #{first.pk})" in html
    assert f"Since last month: {points:+.1f} points (run #{first.pk})" in html


def test_next_scheduled_jobs_come_from_beat_and_the_last_job_run(officer: Client) -> None:
    from cloudexpress.beat import BEAT_SCHEDULE

    checks_run()
    JobRun.objects.create(
        job="audit.anchor", status="done", started_at=timezone.now() - timedelta(seconds=100)
    )
    html = officer.get("/dashboard/").content.decode()
    table = html[html.index('id="table-jobs"') :]
    for name in BEAT_SCHEDULE:
        assert f'<th scope="row">{name}</th>' in table
    # The anchor runs every 300 s and ran 100 s ago: next in about 200 s.
    expected = timezone.now() + timedelta(seconds=200)
    row = table[table.index("audit-anchor") :].split("</tr>")[0]
    assert expected.strftime("%Y-%m-%d %H:") in row


def _queries(client: Client, path: str) -> int:
    # Measure the computation, not a cache hit.
    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_dashboard_runs_the_same_queries_for_small_and_large_data(officer: Client) -> None:
    run = checks_run()
    # Warm: the role graph is then kept in memory for both measurements (and
    # the gaps page fills no page cache).
    _queries(officer, "/dashboard/gaps/")
    small = {path: _queries(officer, path) for path in ("/dashboard/", "/dashboard/gaps/")}

    # Larger: a month of stored runs for the trend, risks in every cell,
    # job runs, and a second full run.
    now = timezone.now()
    Run.objects.bulk_create(
        Run(
            framework=run.framework,
            status=Run.Status.DONE,
            started_at=now - timedelta(days=day),
            finished_at=now - timedelta(days=day),
            score=0.5 + day / 100,
            controls_total=run.controls_total,
        )
        for day in range(1, 31)
    )
    for n in range(25):
        RiskFactory(likelihood=n % 5 + 1, impact=n // 5 + 1)
    JobRun.objects.bulk_create(JobRun(job="audit.anchor", status="done") for _ in range(20))
    checks_run()
    assert Run.objects.count() == 32
    large = {path: _queries(officer, path) for path in ("/dashboard/", "/dashboard/gaps/")}

    assert large == small


def _detection_rows(count: int) -> None:
    """Alerts of every severity and incidents, two of them resolved."""
    from audit.models import Alert, Incident, SecurityEvent

    now = timezone.now()
    Alert.objects.bulk_create(
        Alert(
            rule="brute_force_ip",
            key=f"ip:192.0.2.{n}",
            title=f"Burst {n}",
            severity=("low", "medium", "high", "critical")[n % 4],
            first_event_at=now,
            last_event_at=now,
        )
        for n in range(count)
    )
    Incident.objects.bulk_create(
        Incident(
            title=f"Incident {n}",
            severity="high",
            started_at=now - timedelta(hours=2 * n + 1),
            detected_at=now - timedelta(hours=2 * n),
            # The row's creation is not when the incident was detected.
            created_at=now - timedelta(hours=10 * n),
            resolved_at=now if n in (1, 2) else None,
        )
        for n in range(1, count + 1)
    )
    SecurityEvent.objects.bulk_create(
        SecurityEvent(
            seq=10_000 + n,
            event_type=SecurityEvent.Type.SIGN_IN_FAILED,
            occurred_at=now,
            severity="info",
        )
        for n in range(count * 10)
    )


# What the page costs, read from stored rows: score, previous and month-old
# runs, categories, criteria, trend, open action items (with criteria), the
# heat map's three aggregates, alerts (count and newest), findings,
# incidents, job runs. The same for any amount of data.
DASHBOARD_PAGE_QUERIES = 16


def test_dashboard_figures_run_an_exact_number_of_queries_and_a_cached_page_none(
    officer: Client, django_assert_num_queries: Any
) -> None:
    from compliance.dashboard import selectors

    checks_run()
    with django_assert_num_queries(DASHBOARD_PAGE_QUERIES):
        small = selectors.dashboard_page()

    _detection_rows(12)
    for n in range(25):
        RiskFactory(likelihood=n % 5 + 1, impact=n // 5 + 1)
    checks_run()
    with django_assert_num_queries(DASHBOARD_PAGE_QUERIES):
        large = selectors.dashboard_page()
    assert large["alerts"]["total"] == 12 > small["alerts"]["total"] == 0
    # Incidents 1 and 2 were resolved 2 and 4 hours after their detection,
    # and every incident was detected an hour after it started.
    assert large["incidents"] == {
        "days": 90,
        "incidents": 12,
        "resolved": 2,
        "mean_hours_to_detect": 1.0,
        "mean_hours": 3.0,
    }

    # Served from the cache, the page costs no query at all.
    cache.clear()
    selectors.dashboard_body_cached()
    with django_assert_num_queries(0):
        body = selectors.dashboard_body_cached()
    assert _figure(body, "figure-alerts") == "12"


def test_a_stale_page_is_served_while_another_request_computes_it(officer: Client) -> None:
    from compliance.dashboard import selectors

    checks_run()
    before = officer.get("/dashboard/").content.decode()
    _detection_rows(3)
    # Another request holds the lock: this one keeps serving the stored page
    # rather than computing it a second time.
    selectors.dashboard_page_forget()
    assert cache.add(selectors.PAGE_LOCK_KEY, 1, timeout=30)
    assert _figure(officer.get("/dashboard/").content.decode(), "figure-alerts") == "0"
    cache.delete(selectors.PAGE_LOCK_KEY)
    after = officer.get("/dashboard/").content.decode()
    assert _figure(before, "figure-alerts") == "0"
    assert _figure(after, "figure-alerts") == "3"


def test_a_cached_page_is_dropped_when_a_broadcast_announces_a_change(
    officer: Client,
) -> None:
    from compliance.dashboard.services import dashboard_broadcast

    checks_run()
    before = officer.get("/dashboard/").content.decode()
    ActionItem.objects.exclude(status="closed").update(due_at=timezone.now() - timedelta(days=1))
    # Cached: the change is not shown yet...
    cached = officer.get("/dashboard/").content.decode()
    assert _figure(cached, "figure-overdue") == _figure(before, "figure-overdue")
    dashboard_broadcast(reason="alert_raised")
    after = officer.get("/dashboard/").content.decode()
    # ...and shown once the broadcast dropped the cache.
    assert _figure(after, "figure-overdue") == _figure(after, "figure-action-items")
    assert _figure(before, "figure-overdue") != _figure(after, "figure-overdue")


def test_control_page_shows_checks_evidence_hashes_and_history(officer: Client) -> None:
    checks_run()
    checks_run()
    control = Control.objects.get(code="CX-ACC-01")
    html = officer.get(f"/dashboard/controls/{control.code}/").content.decode()

    assert 'id="control-status">fail<' in html
    assert re.search(r"<code>[0-9a-f]{64}</code>", html)
    history = html[html.index('id="table-history"') :]
    assert history.count('<th scope="row">#') == 2
    assert officer.get("/dashboard/controls/NOPE/").status_code == 404


def test_incident_response_figures_link_to_the_incidents_they_are_computed_from(
    officer: Client,
) -> None:
    checks_run()
    _detection_rows(5)
    html = officer.get("/dashboard/").content.decode()

    assert _figure(html, "figure-incident-response") == "3.0 h"
    for figure in ("figure-incidents", "figure-incidents-resolved", "figure-incident-response"):
        page = officer.get(_href(html, figure))
        assert page.status_code == 200, figure
        listed = page.content.decode()
        count = listed.count('class="incident-row"')
        assert count == int(_figure(listed, "row-count")), figure
        if figure != "figure-incident-response":
            assert count == int(_figure(html, figure)), figure
    assert _figure(html, "figure-incidents") == "5"
    assert _figure(html, "figure-incidents-resolved") == "2"


def test_each_owner_figure_links_to_that_owner_s_items(officer: Client) -> None:
    checks_run()
    items = ActionItem.objects.exclude(status="closed").order_by("pk")
    # One owner's first item overdue, so both columns carry a figure.
    first = items.first()
    assert first is not None
    ActionItem.objects.filter(pk=first.pk).update(due_at=timezone.now() - timedelta(days=2))
    html = officer.get("/dashboard/").content.decode()

    links = re.findall(r'<a class="owner-(open|overdue)" href="([^"]+)">(\d+)</a>', html)
    assert {kind for kind, _, _ in links} == {"open", "overdue"}
    assert sum(int(n) for kind, _, n in links if kind == "open") == items.count()
    assert sum(int(n) for kind, _, n in links if kind == "overdue") == 1
    for _, href, count in links:
        page = officer.get(href.replace("&amp;", "&")).content.decode()
        assert page.count('class="item-row') == int(count), href


def test_each_criterion_s_passing_count_links_to_its_passing_controls(officer: Client) -> None:
    checks_run()
    html = officer.get("/dashboard/").content.decode()

    links = re.findall(r'<a class="criterion-passing" href="([^"]+)">(\d+)</a>', html)
    assert len(links) > 10
    assert any(int(n) > 0 for _, n in links)
    for href, count in links:
        page = officer.get(href.replace("&amp;", "&")).content.decode()
        assert page.count('class="control-row"') == int(count), href


def _jobs_table(html: str) -> dict[str, str]:
    table = html[html.index('id="table-jobs"') :].split("</table>")[0]
    rows = re.findall(r'<th scope="row">([^<]+)</th>(.*?)</tr>', table, re.S)
    return {name: re.findall(r"<td>([^<]*)</td>", cells)[-1] for name, cells in rows}


def test_jobs_that_never_ran_show_the_next_run_the_operations_page_shows(
    officer: Client,
) -> None:
    import time_machine

    from cloudexpress.operations import job_last_times, scheduled_jobs

    checks_run()
    JobRun.objects.all().delete()
    # 20:00 UTC: retention's next slot (02:30) is tomorrow, never "now".
    # The last 20:00 that has passed: travelling forward past the session's
    # idle timeout would sign the officer out (the test failed before 19:30).
    at = timezone.now().replace(hour=20, minute=0, second=0, microsecond=0)
    if at > timezone.now():
        at -= timedelta(days=1)
    with time_machine.travel(at, tick=False):
        html = officer.get("/dashboard/").content.decode()
        expected = {job.name: job for job in scheduled_jobs(job_last_times(), timezone.now())}

    shown = _jobs_table(html)
    assert set(shown) == set(expected)
    tomorrow = (at + timedelta(days=1)).strftime("%Y-%m-%d")
    assert shown["retention"] == f"{tomorrow} 02:30 UTC"
    for name, job in expected.items():
        if job.next_at is None:
            # An interval job that never ran waits for beat's first tick.
            assert shown[name] == "at beat's first tick", name
        else:
            assert shown[name] == job.next_at.strftime("%Y-%m-%d %H:%M UTC"), name


def test_overdue_figure_links_to_exactly_the_overdue_items(officer: Client) -> None:
    checks_run()
    items = ActionItem.objects.exclude(status="closed").order_by("pk")
    assert items.count() > 2
    overdue_ids = list(items.values_list("pk", flat=True)[:2])
    ActionItem.objects.filter(pk__in=overdue_ids).update(due_at=timezone.now() - timedelta(days=3))
    html = officer.get("/dashboard/").content.decode()

    assert _figure(html, "figure-overdue") == "2"
    page = officer.get(_href(html, "figure-overdue")).content.decode()
    assert page.count('class="item-row') == 2
    assert page.count('class="item-row overdue"') == 2


def test_finding_closure_links_to_the_findings_it_is_computed_from(officer: Client) -> None:
    from tests.compliance.governance_factories import FindingFactory

    checks_run()
    now = timezone.now()
    # Closed after 2, 4 and 9 days: a mean of 5.0; one open and overdue,
    # one open and not yet due.
    for days in (2, 4, 9):
        FindingFactory(
            opened_at=now - timedelta(days=20), closed_at=now - timedelta(days=20 - days)
        )
    FindingFactory(opened_at=now - timedelta(days=40), due_on=(now - timedelta(days=5)).date())
    FindingFactory(opened_at=now - timedelta(days=1))
    html = officer.get("/dashboard/").content.decode()

    assert _figure(html, "figure-finding-closure") == "5.0 days"
    closed = officer.get(_href(html, "figure-finding-closure")).content.decode()
    rows = re.findall(
        r'<tr class="finding-row">.*?<td class="opened">(\d{4}-\d\d-\d\d \d\d:\d\d)</td>'
        r'<td class="closed">(\d{4}-\d\d-\d\d \d\d:\d\d)</td><td class="days">([\d.]+)</td>',
        closed,
        re.S,
    )
    assert sorted(float(days) for _, _, days in rows) == [2.0, 4.0, 9.0]
    assert sum(float(days) for _, _, days in rows) / len(rows) == 5.0
    assert _figure(closed, "row-count") == "3"

    for figure, count in (
        ("figure-findings-closed", 3),
        ("figure-findings-open", 2),
        ("figure-findings-overdue", 1),
    ):
        assert int(_figure(html, figure)) == count, figure
        page = officer.get(_href(html, figure))
        assert page.status_code == 200, figure
        assert page.content.decode().count('class="finding-row"') == count, figure


def test_findings_list_runs_the_same_queries_for_few_and_many_findings(
    officer: Client,
) -> None:
    from tests.compliance.governance_factories import FindingFactory

    now = timezone.now()
    paths = [f"/dashboard/findings/?status={status}" for status in ("closed", "open", "overdue")]
    opened = now - timedelta(days=30)
    FindingFactory(opened_at=opened, closed_at=now)
    _queries(officer, paths[0])
    few = [_queries(officer, path) for path in paths]
    for n in range(15):
        FindingFactory(
            opened_at=opened,
            closed_at=now if n % 2 else None,
            due_on=(now - timedelta(days=n)).date(),
        )
    many = [_queries(officer, path) for path in paths]

    assert many == few


def test_active_alerts_page_shows_each_alert_s_fields_and_links_to_it(operator: Any) -> None:
    from audit.models import Alert

    checks_run()
    _detection_rows(3)
    Alert.objects.filter(title="Burst 2").update(status="resolved")
    admin = signed_in(operator, "admin")
    html = admin.get("/dashboard/").content.decode()
    page = admin.get(_href(html, "figure-alerts")).content.decode()

    rows = re.findall(r'<tr class="alert-row">(.*?)</tr>', page, re.S)
    assert len(rows) == int(_figure(html, "figure-alerts")) == 2
    assert "brute_force_ip ip:" not in page
    for alert in Alert.objects.exclude(status="resolved"):
        row = next(row for row in rows if f">{alert.title}</a>" in row)
        assert f'href="/security/alerts/{alert.public_id}/"' in row
        assert f">{alert.get_severity_display()}<" in row
        assert f">{alert.get_status_display()}<" in row
        raised = timezone.localtime(alert.first_event_at).strftime("%Y-%m-%d %H:%M")
        seen = timezone.localtime(alert.last_event_at).strftime("%Y-%m-%d %H:%M")
        assert f'<td class="raised">{raised}</td><td class="last-seen">{seen}</td>' in row
        assert admin.get(f"/security/alerts/{alert.public_id}/").status_code == 200

    # A compliance officer without security_events.view sees the alerts but
    # is offered no link to pages that would refuse them.
    listed = signed_in(operator, "member").get("/dashboard/alerts/").content.decode()
    assert listed.count('class="alert-row"') == 2
    assert not re.search(r"/security/alerts/[0-9a-f-]{36}/", listed)


def test_alerts_list_runs_the_same_queries_for_few_and_many_alerts(officer: Client) -> None:
    from audit.models import Alert

    def raise_alerts(first: int, count: int) -> None:
        now = timezone.now()
        Alert.objects.bulk_create(
            Alert(
                rule="permission_denials",
                key=f"user:{n}",
                title=f"Repeated permission denials {n}",
                severity="medium",
                first_event_at=now,
                last_event_at=now,
            )
            for n in range(first, first + count)
        )

    raise_alerts(0, 2)
    _queries(officer, "/dashboard/alerts/")
    few = _queries(officer, "/dashboard/alerts/")
    raise_alerts(2, 30)
    assert _queries(officer, "/dashboard/alerts/") == few
