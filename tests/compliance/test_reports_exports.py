"""CSV and JSON exports: formula injection neutralised, classification printed."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

import pytest
from django.test import override_settings

from compliance.reports.exports import TABLES, report_table, table_csv, table_json
from tests.compliance.reports_sample import (
    SAMPLE_PROVIDER,
    reports_user,
    sample_report_data,
    sample_runs_record,
)

HOSTILE = ['=HYPERLINK("http://127.0.0.1/x")', "+1+1", "-2-3", "@SUM(A1)", "\tTAB", "\rCR"]


def _hostile_data():
    data = sample_report_data(controls=len(HOSTILE))
    controls = tuple(
        replace(control, title=title, owner=title)
        for control, title in zip(data.controls, HOSTILE, strict=True)
    )
    return replace(data, controls=controls)


def test_csv_cells_that_a_spreadsheet_would_evaluate_get_an_apostrophe() -> None:
    data = _hostile_data()
    rows = list(csv.reader(io.StringIO(table_csv(data, report_table(data, "controls")))))

    assert rows[0] == ["Classification", "Confidential"]
    header = rows.index(
        ["Control", "Title", "Status", "Owner", "Criteria", "Category", "Description"]
    )
    body = rows[header + 1 :]
    assert [row[1] for row in body] == ["'" + title for title in HOSTILE]
    assert [row[3] for row in body] == ["'" + title for title in HOSTILE]
    # An ordinary cell is left alone.
    assert body[0][0] == "CX-001"


def test_numbers_stay_numbers_and_text_is_neutralised_in_json() -> None:
    data = _hostile_data()
    body = json.loads(table_json(data, report_table(data, "controls")))
    assert body["classification"] == "Confidential"
    assert [row[1] for row in body["rows"]] == ["'" + title for title in HOSTILE]

    remediation = json.loads(table_json(data, report_table(data, "remediation")))
    ages = [row[remediation["columns"].index("Age (days)")] for row in remediation["rows"]]
    assert ages and all(isinstance(age, int) for age in ages)


def test_remediation_export_lists_overdue_items_first() -> None:
    data = sample_report_data(controls=24)
    table = report_table(data, "remediation")
    overdue = [row[table.columns.index("Overdue")] for row in table.rows]
    assert "yes" in overdue and "no" in overdue
    assert overdue == sorted(overdue, reverse=True)


def test_every_table_prints_the_classification_first() -> None:
    data = replace(sample_report_data(), classification="Restricted")
    for name in TABLES:
        table = report_table(data, name)
        assert table_csv(data, table).startswith("Classification,Restricted\r\n")
        assert json.loads(table_json(data, table))["classification"] == "Restricted"


@pytest.mark.django_db
@override_settings(REPORTS_DATA_PROVIDER=SAMPLE_PROVIDER)
def test_export_view_downloads_csv_and_json(client) -> None:
    sample_runs_record()
    client.force_login(reports_user("auditor"))

    response = client.get("/reports/export/evidence.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    lines = response.content.decode().splitlines()
    assert lines[0] == "Classification,Confidential"
    assert len(lines) == 5 + 24

    response = client.get("/reports/export/controls.json")
    assert response.status_code == 200
    assert len(json.loads(response.content)["rows"]) == 12

    assert client.get("/reports/export/nothing.csv").status_code == 404


@pytest.mark.django_db
@override_settings(REPORTS_DATA_PROVIDER=SAMPLE_PROVIDER)
def test_export_covers_the_period_asked_and_names_it_in_the_file(client) -> None:
    sample_runs_record()
    client.force_login(reports_user("auditor"))

    for query in ("start=2026-10-01&end=2026-11-30", "from=2026-10-01&to=2026-11-30"):
        response = client.get(f"/reports/export/controls.csv?{query}")
        assert response.status_code == 200
        assert response["Content-Disposition"] == (
            'attachment; filename="cloudexpress-controls-2026-10-01-to-2026-11-30.csv"'
        )
        assert response.content.decode().splitlines()[2] == "Period,2026-10-01 to 2026-11-30"

    response = client.get("/reports/export/gaps.json?end=2026-11-30")
    body = json.loads(response.content)
    assert body["period"] == {"from": "2026-09-02", "to": "2026-11-30"}
    assert "cloudexpress-gaps-2026-09-02-to-2026-11-30.json" in response["Content-Disposition"]


@pytest.mark.django_db
@override_settings(REPORTS_DATA_PROVIDER=SAMPLE_PROVIDER)
@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("start=garbage&end=2026-11-30", "start", "Not a date"),
        ("start=2026-11-30&end=2026-10-01", "end", "must end on or after its first day"),
        ("start=2026-10-01&end=9999-12-31", "end", "or earlier"),
        ("start=2026-01-01&end=2026-01-31", "start", "No full compliance run completed"),
    ],
)
def test_export_of_a_bad_period_shows_the_message_and_downloads_nothing(
    client, query: str, field: str, message: str
) -> None:
    sample_runs_record()
    client.force_login(reports_user("auditor"))

    response = client.get(f"/reports/export/controls.csv?{query}")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert "Content-Disposition" not in response
    assert list(response.context["period_form"].errors) == [field]
    assert message in response.content.decode()
