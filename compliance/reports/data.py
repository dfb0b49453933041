"""The data every report is built from, and the provider that supplies it.

The compliance engine stores runs, results, scores and action items; the
reports never query them directly but read one :class:`ReportData`, built by
the function that ``settings.REPORTS_DATA_PROVIDER`` names. Tests build a
ReportData by hand; at merge the setting points at the engine's selector.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string


class ControlStatus:
    """The statuses a control can have in a report, in the engine's words."""

    PASSING = "passing"
    FAILING = "failing"
    ERROR = "error"
    NOT_APPLICABLE = "not_applicable"
    NOT_IMPLEMENTED = "not_implemented"

    ALL = (PASSING, FAILING, ERROR, NOT_APPLICABLE, NOT_IMPLEMENTED)
    LABELS = {
        PASSING: "Passing",
        FAILING: "Failing",
        ERROR: "Error",
        NOT_APPLICABLE: "Not applicable",
        NOT_IMPLEMENTED: "Not implemented",
    }


@dataclass(frozen=True)
class EvidenceItem:
    title: str
    sha256: str
    collected_at: datetime
    kind: str = "snapshot"
    classification: str = "confidential"


@dataclass(frozen=True)
class ActionItem:
    title: str
    owner: str
    due_on: date
    status: str
    opened_on: date
    severity: str = "medium"

    def age_days(self, today: date) -> int:
        return (today - self.opened_on).days

    def is_overdue(self, today: date) -> bool:
        return self.status != "closed" and self.due_on < today


@dataclass(frozen=True)
class ControlReport:
    code: str
    title: str
    description: str
    status: str
    owner: str
    criteria: tuple[str, ...]
    category: str
    evidence: tuple[EvidenceItem, ...] = ()
    not_applicable_reason: str = ""
    # Likelihood and impact on a 1..5 scale, for the risk heat map.
    likelihood: int = 1
    impact: int = 1

    @property
    def status_label(self) -> str:
        return ControlStatus.LABELS.get(self.status, self.status)

    @property
    def is_passing(self) -> bool:
        return self.status == ControlStatus.PASSING


@dataclass(frozen=True)
class Gap:
    control_code: str
    criterion: str
    reason: str
    action_items: tuple[ActionItem, ...] = ()


@dataclass(frozen=True)
class ScorePoint:
    at: date
    score: Decimal


@dataclass(frozen=True)
class NamedScore:
    code: str
    name: str
    score: Decimal


@dataclass(frozen=True)
class SecuritySummary:
    open_alerts: int = 0
    critical_alerts: int = 0
    incidents_open: int = 0
    failed_sign_ins: int = 0
    locked_accounts: int = 0
    mfa_coverage: Decimal = Decimal("0")
    # Likelihood x impact cells of open alerts, added to failing controls.
    alert_risks: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class ReportData:
    """One report's content: what the engine stored for a period."""

    organization: str
    period_start: date
    period_end: date
    generated_at: datetime
    run_id: str
    score: Decimal
    categories: tuple[NamedScore, ...]
    criteria: tuple[NamedScore, ...]
    controls: tuple[ControlReport, ...]
    gaps: tuple[Gap, ...]
    security: SecuritySummary
    history: tuple[ScorePoint, ...] = ()
    classification: str = "Confidential"

    @property
    def evidence(self) -> list[tuple[ControlReport, EvidenceItem]]:
        return [(control, item) for control in self.controls for item in control.evidence]

    @property
    def action_items(self) -> list[tuple[Gap, ActionItem]]:
        return [(gap, item) for gap in self.gaps for item in gap.action_items]

    def status_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(ControlStatus.ALL, 0)
        for control in self.controls:
            counts[control.status] = counts.get(control.status, 0) + 1
        return counts

    def as_json(self) -> dict[str, Any]:
        """Return the report as JSON-ready data: decimals as strings, dates ISO."""
        return _jsonable(dataclasses.asdict(self))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


class ReportDataUnavailable(Exception):
    """No stored run covers the period, so there is nothing to report yet."""


ReportDataProvider = Callable[..., ReportData]


def report_data_get(*, period_start: date, period_end: date) -> ReportData:
    """Return the report data for a period from the configured provider."""
    provider: ReportDataProvider = import_string(settings.REPORTS_DATA_PROVIDER)
    return provider(period_start=period_start, period_end=period_end)


def engine_report_data(*, period_start: date, period_end: date) -> ReportData:
    """Read the engine's stored results for the period.

    TODO(reports-engine): the engine's runs, scores and action items land in
    a parallel branch; point REPORTS_DATA_PROVIDER at its selector (or fill
    this in from compliance.selectors) at merge. Until then no report exists.
    """
    raise ReportDataUnavailable("No compliance run has been stored yet.")


__all__ = [
    "ActionItem",
    "ControlReport",
    "ControlStatus",
    "EvidenceItem",
    "Gap",
    "NamedScore",
    "ReportData",
    "ReportDataUnavailable",
    "ScorePoint",
    "SecuritySummary",
    "engine_report_data",
    "report_data_get",
]
