"""The evidence room's period: any date an auditor types is shown or refused
beside its field, never a server error, and the page says which period it
shows."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine

from tests.compliance.reports_sample import reports_user

pytestmark = pytest.mark.django_db

TODAY = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def auditor(client: Any) -> Any:
    with time_machine.travel(TODAY, tick=False):
        client.force_login(reports_user("auditor"))
        yield client


def _shown(page: str) -> tuple[str, str]:
    match = re.search(
        r'id="period-shown">.*?from <strong>([\d-]+)</strong> to <strong>([\d-]+)</strong>', page
    )
    assert match, page
    return match.group(1), match.group(2)


def _errors(page: str) -> dict[str, str]:
    return dict(re.findall(r'id="period-(start|end)-error">([^<]*)</div>', page))


@pytest.mark.parametrize(
    "path",
    [
        "/evidence/?end=9999-12-31",
        "/evidence/?start=0001-01-01&end=9999-12-31",
        "/evidence/?start=9999-12-31",
        "/evidence/controls/CX-ATH-01/?end=9999-12-31",
        "/evidence/controls/CX-ATH-01/?start=0001-01-01&end=0001-01-01",
    ],
)
def test_dates_at_the_ends_of_the_calendar_are_shown_not_a_server_error(
    auditor: Any, path: str
) -> None:
    response = auditor.get(path)
    assert response.status_code == 200
    page = response.content.decode()
    query = dict(part.split("=") for part in path.split("?")[1].split("&"))
    start, end = _shown(page)
    # An end after today is refused beside its field and today shown.
    assert end == min(query.get("end", "2026-12-04"), "2026-12-04")
    if query.get("end", "") > "2026-12-04":
        assert _errors(page)["end"].startswith("The period must end today (2026-12-04)")
    if "start" in query and query["start"] <= end:
        assert start == query["start"]


def test_a_future_period_is_refused_as_the_reports_refuse_it(auditor: Any) -> None:
    page = auditor.get("/evidence/?start=2099-01-01&end=2099-12-31").content.decode()
    errors = _errors(page)
    assert errors["end"].startswith("The period must end today (2026-12-04) or earlier.")
    assert "Not every date asked could be used." in page
    assert _shown(page) == ("2026-09-06", "2026-12-04")


def test_a_bad_start_is_refused_beside_its_field_and_the_valid_end_kept(auditor: Any) -> None:
    page = auditor.get("/evidence/?start=garbage&end=2026-12-01").content.decode()

    assert _errors(page) == {"start": "Not a date: write it as YYYY-MM-DD. (asked: garbage)"}
    assert "Not every date asked could be used." in page
    assert _shown(page) == ("2026-09-03", "2026-12-01")
    assert 'name="end" value="2026-12-01"' in page


def test_a_reversed_period_is_refused_not_swapped(auditor: Any) -> None:
    page = auditor.get("/evidence/?start=2026-12-04&end=2026-01-01").content.decode()

    assert _errors(page) == {
        "end": "The period must end on or after its first day, 2026-12-04. (asked: 2026-01-01)"
    }
    assert "Not every date asked could be used." in page
    # Neither end is trusted: the default period is shown, and said so.
    assert _shown(page) == ("2026-09-06", "2026-12-04")


def test_a_valid_period_is_shown_without_a_message(auditor: Any) -> None:
    page = auditor.get("/evidence/?start=2026-10-01&end=2026-10-31").content.decode()
    assert _errors(page) == {}
    assert "Not every date asked" not in page
    assert _shown(page) == ("2026-10-01", "2026-10-31")
