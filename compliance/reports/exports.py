"""CSV and JSON exports of the report tables.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return as a formula, so such text cells get a leading
apostrophe (OWASP's advice for CSV injection). Numbers stay numbers. Every
export names its classification in its first row (CSV) or a field (JSON).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from compliance.reports.data import ReportData

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | Decimal


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Cell, ...]]


def cell_neutralise(value: Cell) -> Cell:
    """Return a text cell that no spreadsheet evaluates; numbers unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _controls(data: ReportData, today: date) -> Table:
    return Table(
        "controls",
        "Control status",
        ("Control", "Title", "Status", "Owner", "Criteria", "Category", "Description"),
        [
            (
                c.code,
                c.title,
                c.status_label,
                c.owner,
                " ".join(c.criteria),
                c.category,
                c.description,
            )
            for c in data.controls
        ],
    )


def _gaps(data: ReportData, today: date) -> Table:
    return Table(
        "gaps",
        "Gap analysis",
        ("Criterion", "Control", "Reason", "Action items"),
        [
            (gap.criterion, gap.control_code, gap.reason, len(gap.action_items))
            for gap in sorted(data.gaps, key=lambda g: (g.criterion, g.control_code))
        ],
    )


def _remediation(data: ReportData, today: date) -> Table:
    rows = sorted(
        data.action_items, key=lambda pair: (not pair[1].is_overdue(today), pair[1].due_on)
    )
    return Table(
        "remediation",
        "Remediation tracking",
        ("Action item", "Control", "Owner", "Severity", "Due", "Age (days)", "Overdue", "Status"),
        [
            (
                item.title,
                gap.control_code,
                item.owner,
                item.severity,
                item.due_on.isoformat(),
                item.age_days(today),
                "yes" if item.is_overdue(today) else "no",
                item.status,
            )
            for gap, item in rows
        ],
    )


def _evidence(data: ReportData, today: date) -> Table:
    return Table(
        "evidence",
        "Evidence manifest",
        ("Control", "Evidence", "Kind", "Collected", "SHA-256"),
        [
            (control.code, item.title, item.kind, item.collected_at.isoformat(), item.sha256)
            for control, item in data.evidence
        ],
    )


def _categories(data: ReportData, today: date) -> Table:
    return Table(
        "categories",
        "Score per category",
        ("Category", "Score"),
        [(category.name, category.score) for category in data.categories],
    )


def _criteria(data: ReportData, today: date) -> Table:
    return Table(
        "criteria",
        "Score per criterion",
        ("Criterion", "Title", "Score"),
        [(criterion.code, criterion.name, criterion.score) for criterion in data.criteria],
    )


TABLES = {
    "controls": _controls,
    "gaps": _gaps,
    "remediation": _remediation,
    "evidence": _evidence,
    "categories": _categories,
    "criteria": _criteria,
}


def report_table(data: ReportData, name: str, *, today: date | None = None) -> Table:
    return TABLES[name](data, today or data.generated_at.date())


def _row(cells: Sequence[Cell]) -> list[Cell]:
    return [cell_neutralise(cell) for cell in cells]


def table_csv(data: ReportData, table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_row(["Classification", data.classification]))
    writer.writerow(_row(["Report", table.title]))
    writer.writerow(
        _row(["Period", f"{data.period_start.isoformat()} to {data.period_end.isoformat()}"])
    )
    writer.writerow([])
    writer.writerow(_row(table.columns))
    for row in table.rows:
        writer.writerow(_row(row))
    return out.getvalue()


def _json_cell(value: Cell) -> Any:
    value = cell_neutralise(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def table_json(data: ReportData, table: Table) -> str:
    body = {
        "classification": data.classification,
        "report": table.title,
        "period": {"from": data.period_start.isoformat(), "to": data.period_end.isoformat()},
        "columns": list(table.columns),
        "rows": [[_json_cell(cell) for cell in row] for row in table.rows],
    }
    return json.dumps(body, indent=2)
