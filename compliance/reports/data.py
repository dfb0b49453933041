"""The data every report is built from, and the provider that supplies it.

The compliance engine stores runs, results, scores and action items; the
reports never query them directly but read one :class:`ReportData`, built by
the function that ``settings.REPORTS_DATA_PROVIDER`` names. Tests build a
ReportData by hand; at merge the setting points at the engine's selector.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from compliance.reports.periods import report_period_bounds


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
    # When the run started: a day has more than one run, and each is its own
    # point. (A bare date still works, for data with one point a day.)
    at: datetime | date
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
    # Likelihood x impact of each open entry of the risk register.
    register_risks: tuple[tuple[int, int], ...] = ()


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


# A control's severity places its gap on the heat map: (likelihood, impact).
SEVERITY_RISK: dict[str, tuple[int, int]] = {
    "critical": (4, 5),
    "high": (3, 4),
    "medium": (3, 3),
    "low": (2, 2),
}
# The engine's control statuses in the reports' words.
ENGINE_STATUS = {
    "pass": ControlStatus.PASSING,
    "fail": ControlStatus.FAILING,
    "not_applicable": ControlStatus.NOT_APPLICABLE,
}


def _percent(fraction: float | None) -> Decimal:
    # Rounded exactly as compliance.selectors.score_display writes it, so the
    # pack and the JSON report never differ in the last digit.
    if fraction is None:
        return Decimal("0.0")
    return Decimal(f"{fraction * 100:.1f}")


def _evidence_sha256(evidence: Any) -> str:
    # The hash of a check's stored evidence, over its canonical JSON, so the
    # same stored result always hashes alike in the page, the API and a pack.
    canonical = json.dumps(evidence, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def engine_report_data(*, period_start: date, period_end: date) -> ReportData:
    """Build the report from the latest full run stored up to ``period_end``.

    Scores, statuses, evidence and gaps come from what the run stored; the
    history is every full run of the period. A fixed number of queries,
    whatever the number of controls, results or events.
    """
    from audit.models import SecurityEvent
    from compliance.checks import registry
    from compliance.models import (
        ActionItem as ActionItemRow,
    )
    from compliance.models import (
        CategoryScore,
        Control,
        ControlScore,
        CriterionScore,
        EvidenceResponseFile,
        Result,
        Run,
    )

    low, high = report_period_bounds(period_start, period_end)
    full_runs = Run.objects.filter(status=Run.Status.DONE, scope=Run.Scope.FULL)
    run = full_runs.filter(started_at__lt=high).order_by("-started_at", "-id").first()
    if run is None:
        raise ReportDataUnavailable("No compliance run has been stored for this period yet.")

    categories = tuple(
        NamedScore(code=s.category.code, name=s.category.name, score=_percent(s.score))
        for s in CategoryScore.objects.filter(run=run).select_related("category")
    )
    criteria = tuple(
        NamedScore(code=s.criterion.code, name=s.criterion.title, score=_percent(s.score))
        for s in CriterionScore.objects.filter(run=run)
        .select_related("criterion")
        .order_by("criterion__order")
    )

    checks = registry.registered()
    checks_by_control: dict[str, list[str]] = {}
    for spec in checks.values():
        for code in spec.controls:
            checks_by_control.setdefault(code, []).append(spec.id)
    scores = {s.control_id: s for s in ControlScore.objects.filter(run=run)}
    results = {r.check_id: r for r in Result.objects.filter(run=run)}
    open_items: dict[int, list[ActionItemRow]] = {}
    for item in ActionItemRow.objects.exclude(status=ActionItemRow.Status.CLOSED).select_related(
        "owner"
    ):
        open_items.setdefault(item.control_id, []).append(item)

    # Files the audit liaison sent in answer to an auditor's request are
    # evidence of their control as much as an attestation is.
    answers: dict[int, list[EvidenceItem]] = {}
    for answer in (
        EvidenceResponseFile.objects.filter(uploaded_at__lt=high)
        .select_related("request")
        .order_by("uploaded_at", "id")
    ):
        answers.setdefault(answer.request.control_id, []).append(
            EvidenceItem(
                title=f"Answer to an evidence request: {answer.file_name}",
                sha256=answer.sha256,
                collected_at=answer.uploaded_at,
                kind="request answer",
            )
        )

    controls: list[ControlReport] = []
    gaps: list[Gap] = []
    rows = (
        Control.objects.filter(is_active=True)
        .prefetch_related("criteria__category", "attestations")
        .order_by("code")
    )
    for control in rows:
        score = scores.get(control.pk)
        status = ENGINE_STATUS[score.status] if score else ControlStatus.NOT_IMPLEMENTED
        criteria_rows = sorted(control.criteria.all(), key=lambda c: c.order)
        evidence = [
            EvidenceItem(
                title=f"Attestation: {a.file_name}",
                sha256=a.sha256,
                collected_at=a.created_at,
                kind="attestation",
                classification=a.classification,
            )
            for a in control.attestations.all()
            if a.created_at < high
        ]
        evidence.extend(answers.get(control.pk, []))
        for check_id in sorted(checks_by_control.get(control.code, [])):
            result = results.get(check_id)
            if result is None:
                continue
            evidence.append(
                EvidenceItem(
                    title=f"Check {check_id}: {checks[check_id].title}",
                    sha256=_evidence_sha256(result.evidence),
                    collected_at=result.checked_at,
                    kind="check result",
                )
            )
        likelihood, impact = SEVERITY_RISK.get(control.severity, (3, 3))
        controls.append(
            ControlReport(
                code=control.code,
                title=control.name,
                description=control.description,
                status=status,
                owner=control.owner_title,
                criteria=tuple(c.code for c in criteria_rows),
                category=criteria_rows[0].category.code if criteria_rows else "",
                evidence=tuple(evidence),
                not_applicable_reason="; ".join(map(str, score.reasons))
                if score and status == ControlStatus.NOT_APPLICABLE
                else "",
                likelihood=likelihood,
                impact=impact,
            )
        )
        if status in (ControlStatus.FAILING, ControlStatus.NOT_IMPLEMENTED):
            gaps.append(
                Gap(
                    control_code=control.code,
                    criterion=criteria_rows[0].code if criteria_rows else "",
                    reason="; ".join(map(str, score.reasons)) if score else "not evaluated",
                    action_items=tuple(
                        ActionItem(
                            title=item.summary,
                            owner=item.owner_title,
                            due_on=timezone.localtime(item.due_at).date(),
                            status=item.status,
                            opened_on=timezone.localtime(item.opened_at).date(),
                            severity=item.severity,
                        )
                        for item in open_items.get(control.pk, [])
                    ),
                )
            )

    history = tuple(
        ScorePoint(at=timezone.localtime(started), score=_percent(value))
        for started, value in full_runs.filter(started_at__gte=low, started_at__lt=high)
        .order_by("started_at")
        .values_list("started_at", "score")
    )

    counts = dict(
        SecurityEvent.objects.filter(occurred_at__gte=low, occurred_at__lt=high)
        .filter(
            event_type__in=(
                SecurityEvent.Type.SIGN_IN_FAILED,
                SecurityEvent.Type.LOCKED_OUT,
            )
        )
        .values_list("event_type")
        .annotate(n=Count("id"))
        .values_list("event_type", "n")
    )
    alerts = alert_summary()
    security = SecuritySummary(
        open_alerts=alerts["open"],
        critical_alerts=alerts["critical"],
        incidents_open=alerts["incidents_open"],
        failed_sign_ins=counts.get(SecurityEvent.Type.SIGN_IN_FAILED, 0),
        locked_accounts=counts.get(SecurityEvent.Type.LOCKED_OUT, 0),
        mfa_coverage=mfa_coverage_privileged(now=high),
        alert_risks=tuple(alerts["risks"]),
        register_risks=register_risks_open(),
    )
    return ReportData(
        organization="CloudExpress",
        period_start=period_start,
        period_end=period_end,
        generated_at=timezone.now(),
        run_id=str(run.pk),
        score=_percent(run.score),
        categories=categories,
        criteria=criteria,
        controls=tuple(controls),
        gaps=tuple(gaps),
        security=security,
        history=history,
    )


def register_risks_open() -> tuple[tuple[int, int], ...]:
    """(likelihood, impact) of every open risk in the register, one per risk,
    counted per cell in the database (one query)."""
    from compliance.models.governance import Risk

    cells = (
        Risk.objects.filter(status=Risk.Status.OPEN)
        .values_list("likelihood", "impact")
        .annotate(n=Count("id"))
        .order_by("-likelihood", "-impact")
    )
    return tuple((likelihood, impact) for likelihood, impact, n in cells for _ in range(n))


def mfa_coverage_privileged(*, now: datetime) -> Decimal:
    """The share of privileged accounts (staff, superusers, current owners
    and admins) in good standing with a confirmed TOTP device, in percent.

    The same population as the cc-mfa-privileged check, so the pack's figure
    and the check's verdict never disagree. One query. No privileged account
    means none lacks a second factor: 100%.
    """
    from accounts.models import TOTPDevice, User
    from compliance.checks.authentication import privileged_users_query

    confirmed = TOTPDevice.objects.filter(confirmed=True).values("user_id")
    figures = User.objects.filter(
        privileged_users_query(now), terminated_at=None, is_active=True
    ).aggregate(
        total=Count("pk", distinct=True),
        covered=Count("pk", distinct=True, filter=Q(pk__in=confirmed)),
    )
    if not figures["total"]:
        return Decimal("100.0")
    return Decimal(f"{figures['covered'] * 100 / figures['total']:.1f}")


# An alert's severity on the heat map: (likelihood, impact).
ALERT_RISK: dict[str, tuple[int, int]] = {
    "critical": (5, 5),
    "high": (4, 4),
    "medium": (3, 3),
    "low": (2, 2),
}


def alert_summary() -> dict[str, Any]:
    """Open alerts and incidents, if the detection models exist yet.

    Detection lands in a parallel branch, so its models are looked up by
    name; without them there is nothing open. Two queries at most.
    """
    summary: dict[str, Any] = {"open": 0, "critical": 0, "incidents_open": 0, "risks": []}
    alert_model = _model_or_none("audit", "Alert")
    if alert_model is not None:
        closed = {"closed", "resolved", "dismissed", "false_positive"}
        by_severity = dict(
            alert_model.objects.exclude(status__in=closed)
            .values_list("severity")
            .annotate(n=Count("id"))
            .values_list("severity", "n")
        )
        summary["open"] = sum(by_severity.values())
        summary["critical"] = by_severity.get("critical", 0)
        for severity, n in by_severity.items():
            summary["risks"].extend([ALERT_RISK.get(severity, (2, 2))] * n)
    incident_model = _model_or_none("audit", "Incident")
    if incident_model is not None:
        summary["incidents_open"] = incident_model.objects.exclude(
            status__in=("closed", "resolved")
        ).count()
    return summary


def _model_or_none(app_label: str, name: str) -> Any:
    from django.apps import apps

    try:
        return apps.get_model(app_label, name)
    except LookupError:
        return None


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
    "alert_summary",
    "engine_report_data",
    "report_data_get",
]
