"""The report period: one default everywhere, no server error at the ends of
the calendar, and no pack for a period the portal cannot report."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from compliance.models import ReportPack
from compliance.reports.data import engine_report_data
from compliance.reports.periods import report_period_default, report_period_problems
from compliance.runs import checks_run
from tests.compliance.reports_sample import SAMPLE_PROVIDER, reports_user, sample_runs_record

pytestmark = pytest.mark.django_db

PACK_API = "/api/compliance/reports/pack"
SOC2_REPORT = "/api/compliance/soc2/report"
TODAY = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def media(tmp_path: Any, settings: Any) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def today() -> Any:
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def sample_provider(today: None) -> Any:
    sample_runs_record()
    with override_settings(REPORTS_DATA_PROVIDER=SAMPLE_PROVIDER):
        yield


# --- One default period ------------------------------------------------------


def test_the_default_period_is_the_90_days_ending_today(today: None) -> None:
    assert report_period_default() == (date(2026, 9, 6), date(2026, 12, 4))
    assert report_period_default(end=date(2026, 6, 30)) == (date(2026, 4, 2), date(2026, 6, 30))


def test_every_page_and_the_api_default_to_the_same_period(sample_provider: None, client) -> None:
    client.force_login(reports_user("admin"))

    overview = client.get("/reports/").content.decode()
    assert "2026-09-06 to 2026-12-04" in overview

    form = client.get("/reports/packs/").content.decode()
    assert 'value="2026-09-06"' in form and 'value="2026-12-04"' in form

    room = client.get("/evidence/").content.decode()
    assert 'value="2026-09-06"' in room and 'value="2026-12-04"' in room

    report = client.get(f"{PACK_API}?format=json").json()
    assert (report["period_start"], report["period_end"]) == ("2026-09-06", "2026-12-04")

    pdf = client.get(f"{SOC2_REPORT}?format=pdf")
    assert pdf.status_code == 200
    pack = ReportPack.objects.get(public_id=pdf["X-Pack-Id"])
    assert (pack.period_start, pack.period_end) == (date(2026, 9, 6), date(2026, 12, 4))


# --- The ends of the calendar -------------------------------------------------


def test_the_engine_reports_a_period_as_long_as_the_calendar() -> None:
    checks_run()
    data = engine_report_data(period_start=date.min, period_end=date.max)
    assert data.controls and len(data.history) == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=0001-01-01&to=9999-12-31", "to"),
        ("from=2026-01-01&to=9999-12-31", "to"),
        ("from=9999-12-31&to=9999-12-31", "to"),
        ("to=9999-12-31", "to"),
    ],
)
def test_a_period_ending_at_the_end_of_the_calendar_is_a_400_not_a_500(
    client, query: str, field: str
) -> None:
    checks_run()
    client.force_login(reports_user("auditor"))
    for fmt in ("json", "pdf"):
        response = client.get(f"{PACK_API}?format={fmt}&{query}")
        assert response.status_code == 400, (fmt, query)
        body = response.json()
        assert body["code"] == "invalid"
        assert list(body["fields"]) == [field]
        assert "must end today" in body["fields"][field][0]
    assert not ReportPack.objects.exists()


def test_a_period_from_the_first_day_of_the_calendar_is_reported(client) -> None:
    checks_run()
    client.force_login(reports_user("auditor"))
    today = timezone.localdate().isoformat()
    response = client.get(f"{PACK_API}?format=json&from=0001-01-01&to={today}")
    assert response.status_code == 200
    assert response.json()["period_start"] == "0001-01-01"


# --- Periods the portal refuses before a pack row exists -----------------------


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        ("2030-01-01", "2030-02-01", "to", "must end today (2026-12-04) or earlier"),
        ("2026-12-01", "2026-11-01", "to", "must end on or after its first day"),
        ("2026-01-01", "2026-03-31", "from", "No full compliance run completed"),
    ],
)
def test_the_pack_api_refuses_a_period_it_cannot_report_and_names_the_field_sent(
    sample_provider: None, client, start: str, end: str, field: str, message: str
) -> None:
    client.force_login(reports_user("auditor"))
    for fmt in ("json", "pdf"):
        response = client.get(f"{PACK_API}?format={fmt}&kind=security&from={start}&to={end}")
        assert response.status_code == 400
        assert response["Content-Type"] == "application/json"
        body = response.json()
        assert body["code"] == "invalid"
        assert list(body["fields"]) == [field]
        assert message in body["fields"][field][0]
    assert not ReportPack.objects.exists()


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        ("2030-01-01", "2030-02-01", "period_end", "must end today (2026-12-04) or earlier"),
        ("2026-11-30", "9999-12-31", "period_end", "must end today (2026-12-04) or earlier"),
        ("2026-01-01", "2026-03-31", "period_start", "No full compliance run completed"),
    ],
)
def test_the_pack_form_refuses_a_period_it_cannot_report_beside_the_field(
    sample_provider: None, client, start: str, end: str, field: str, message: str
) -> None:
    client.force_login(reports_user("auditor"))
    response = client.post(
        "/reports/packs/", {"kind": "control_status", "period_start": start, "period_end": end}
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == [field]
    assert message in form.errors[field][0]
    beside_field = rf'<div class="field-error">[^<]*{re.escape(message)}'
    assert re.search(beside_field, response.content.decode())
    assert not ReportPack.objects.exists()


def test_the_pdf_report_refuses_a_default_period_without_a_run(client) -> None:
    # The latest run is older than the default period: a pack of today's
    # period would show that run as if it were the period's.
    with time_machine.travel(datetime(2026, 1, 10, 6, tzinfo=UTC), tick=False):
        checks_run()
    client.force_login(reports_user("admin"))
    with time_machine.travel(TODAY, tick=False):
        response = client.get(f"{SOC2_REPORT}?format=pdf")
    assert response.status_code == 404
    assert response.json()["code"] == "no_report"
    assert "No full compliance run completed" in response.json()["detail"]
    assert not ReportPack.objects.exists()


def test_problems_of_a_period_name_the_end_they_concern(today: None) -> None:
    sample_runs_record()
    assert report_period_problems(date(2026, 11, 1), date(2026, 11, 30)) == {}
    assert list(report_period_problems(date(2026, 12, 5), date(2026, 12, 1))) == ["end"]
    assert list(report_period_problems(date(2026, 1, 1), date(2026, 1, 31))) == ["start"]


@pytest.mark.parametrize("endpoint", ["readiness", "history"])
@pytest.mark.parametrize(
    "query", ["from=9999-12-01&to=9999-12-31", "from=0001-01-01&to=0001-01-31", "to=0001-01-01"]
)
def test_windows_at_the_ends_of_the_calendar_are_answered_not_a_500(
    client, endpoint: str, query: str
) -> None:
    client.force_login(reports_user("admin"))
    response = client.get(f"/api/compliance/soc2/{endpoint}?{query}")
    assert response.status_code in (200, 400), response.content
