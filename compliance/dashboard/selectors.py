"""Reads of the executive dashboard and the pages its figures link to.

Every figure comes from what the engine stored (runs, scores, action items),
the governance registers, and detection's alerts when those models exist.
Nothing is recomputed per request, and each read runs a fixed number of
queries whatever the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from compliance.checks import registry
from compliance.models import (
    ActionItem,
    CategoryScore,
    Control,
    ControlScore,
    CriterionScore,
    Result,
    Run,
)
from compliance.models.governance import Risk
from compliance.reports.data import ALERT_RISK, SEVERITY_RISK, _model_or_none
from compliance.selectors import latest_full_run, score_display

TREND_DAYS = 90
ALERTS_SHOWN = 10
# Alert statuses that are no longer active, whatever detection calls them.
ALERT_CLOSED = ("closed", "resolved", "dismissed", "false_positive")
INCIDENT_CLOSED = ("closed", "resolved")


def _full_runs() -> Any:
    return Run.objects.filter(status=Run.Status.DONE, scope=Run.Scope.FULL)


def _change(current: float | None, before: Run | None) -> dict[str, Any] | None:
    if current is None or before is None or before.score is None:
        return None
    points = round((current - before.score) * 100, 1)
    return {"points": points, "run_id": before.pk, "at": before.started_at}


def score_panel(run: Run | None = None, *, now: datetime | None = None) -> dict[str, Any]:
    """The score with its change since the previous run and since a month ago."""
    now = now or timezone.now()
    run = run or latest_full_run()
    if run is None:
        return {"run": None, "score_display": score_display(None)}
    previous = (
        _full_runs()
        .filter(Q(started_at__lt=run.started_at) | Q(started_at=run.started_at, id__lt=run.pk))
        .order_by("-started_at", "-id")
        .first()
    )
    month_ago = (
        _full_runs()
        .filter(started_at__lte=now - timedelta(days=30))
        .order_by("-started_at", "-id")
        .first()
    )
    failing = run.controls_total - run.controls_passing
    return {
        "run": run,
        "score": run.score,
        "score_display": score_display(run.score),
        "since_last_run": _change(run.score, previous),
        "since_last_month": _change(run.score, month_ago),
        "controls_total": run.controls_total,
        "controls_passing": run.controls_passing,
        "controls_failing": failing,
        "failure_rate": round(failing * 100 / run.controls_total, 1)
        if run.controls_total
        else None,
    }


def alerts_panel() -> dict[str, Any]:
    """Active alerts, newest first, when detection's models exist (two queries)."""
    model = _model_or_none("audit", "Alert")
    if model is None:
        return {"available": False, "total": 0, "alerts": []}
    active = model.objects.exclude(status__in=ALERT_CLOSED)
    total = active.count()
    alerts = []
    for alert in active.order_by("-pk")[:ALERTS_SHOWN]:
        alerts.append(
            {
                "id": alert.pk,
                "title": getattr(alert, "title", "") or str(alert),
                "severity": getattr(alert, "severity", ""),
                "status": getattr(alert, "status", ""),
                "raised_at": getattr(alert, "raised_at", None)
                or getattr(alert, "created_at", None),
            }
        )
    return {"available": True, "total": total, "alerts": alerts}


def alerts_active() -> list[dict[str, Any]]:
    """Every active alert, for the list the alerts figure links to (one
    query): what it is, how severe, where it stands, when it was raised and
    last seen, and its public id for detection's own alert page."""
    model = _model_or_none("audit", "Alert")
    if model is None:
        return []
    return [
        {
            "public_id": alert.public_id,
            "title": alert.title or str(alert),
            "rule": alert.rule,
            "severity": alert.get_severity_display(),
            "severity_code": alert.severity,
            "status": alert.get_status_display(),
            "raised_at": alert.first_event_at,
            "last_seen_at": alert.last_event_at,
        }
        for alert in model.objects.exclude(status__in=ALERT_CLOSED).order_by("-pk")
    ]


@dataclass(frozen=True)
class HeatCell:
    likelihood: int
    impact: int
    risks: int
    controls: int
    alerts: int

    @property
    def total(self) -> int:
        return self.risks + self.controls + self.alerts


def _failing_scores(run: Run | None) -> list[ControlScore]:
    if run is None:
        return []
    return list(
        ControlScore.objects.filter(run=run, status=ControlScore.Status.FAIL)
        .select_related("control")
        .order_by("control__code")
    )


def heatmap(run: Run | None) -> list[list[HeatCell]]:
    """Likelihood (5 on top) by impact: open risks, failing controls, open
    alerts. Three queries at most."""
    risks: dict[tuple[int, int], int] = {}
    for row in (
        Risk.objects.filter(status=Risk.Status.OPEN)
        .values("likelihood", "impact")
        .annotate(n=Count("id"))
    ):
        risks[(row["likelihood"], row["impact"])] = row["n"]
    controls: dict[tuple[int, int], int] = {}
    for severity, n in (
        ControlScore.objects.filter(run=run, status=ControlScore.Status.FAIL)
        .values_list("control__severity")
        .annotate(n=Count("id"))
        .values_list("control__severity", "n")
        if run is not None
        else []
    ):
        cell = SEVERITY_RISK.get(severity, (3, 3))
        controls[cell] = controls.get(cell, 0) + n
    alerts: dict[tuple[int, int], int] = {}
    alert_model = _model_or_none("audit", "Alert")
    if alert_model is not None:
        for severity, n in (
            alert_model.objects.exclude(status__in=ALERT_CLOSED)
            .values_list("severity")
            .annotate(n=Count("id"))
            .values_list("severity", "n")
        ):
            cell = ALERT_RISK.get(severity, (2, 2))
            alerts[cell] = alerts.get(cell, 0) + n
    return [
        [
            HeatCell(
                likelihood,
                impact,
                risks.get((likelihood, impact), 0),
                controls.get((likelihood, impact), 0),
                alerts.get((likelihood, impact), 0),
            )
            for impact in range(1, 6)
        ]
        for likelihood in range(5, 0, -1)
    ]


def heatmap_cell_items(run: Run | None, likelihood: int, impact: int) -> dict[str, list[Any]]:
    """What one heat map cell counts, listed."""
    severities = [s for s, cell in SEVERITY_RISK.items() if cell == (likelihood, impact)]
    alert_severities = [s for s, cell in ALERT_RISK.items() if cell == (likelihood, impact)]
    alert_model = _model_or_none("audit", "Alert")
    return {
        "risks": list(
            Risk.objects.filter(status=Risk.Status.OPEN, likelihood=likelihood, impact=impact)
            .select_related("owner")
            .order_by("title")
        ),
        "controls": [s.control for s in _failing_scores(run) if s.control.severity in severities],
        "alerts": list(
            alert_model.objects.exclude(status__in=ALERT_CLOSED)
            .filter(severity__in=alert_severities)
            .order_by("-pk")
        )
        if alert_model is not None
        else [],
    }


def action_items_open(*, now: datetime | None = None) -> list[dict[str, Any]]:
    """Open action items, overdue first, then by due date, with their ageing."""
    now = now or timezone.now()
    items = (
        ActionItem.objects.exclude(status=ActionItem.Status.CLOSED)
        .select_related("control", "owner")
        .prefetch_related("control__criteria")
        .order_by("due_at", "control__code")
    )
    rows = [
        {
            "item": item,
            "control": item.control,
            "criteria": sorted(c.code for c in item.control.criteria.all()),
            "owner": item.owner.email if item.owner else item.owner_title,
            "overdue": item.due_at < now,
            "age_days": (now - item.opened_at).days,
            "days_left": (item.due_at - now).days,
        }
        for item in items
    ]
    return sorted(rows, key=lambda row: (not row["overdue"], row["item"].due_at))


def action_items_by_owner(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    owners: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = owners.setdefault(row["owner"], {"owner": row["owner"], "open": 0, "overdue": 0})
        entry["open"] += 1
        entry["overdue"] += int(row["overdue"])
        entry.setdefault("next_due", row["item"].due_at)
        entry["next_due"] = min(entry["next_due"], row["item"].due_at)
    return sorted(owners.values(), key=lambda entry: entry["next_due"])


def scheduled_jobs(*, now: datetime | None = None) -> list[Any]:
    """Every beat entry with its next run, soonest first (one query).

    The operations page computes the same table; both read it from
    ``cloudexpress.operations`` so the two pages never disagree.
    """
    from cloudexpress import operations

    now = now or timezone.now()
    return operations.scheduled_jobs(operations.job_last_times(), now)


INCIDENT_DAYS = 90


def _incidents_window(now: datetime) -> Any:
    from audit.models import Incident

    return Incident.objects.filter(detected_at__gte=now - timedelta(days=INCIDENT_DAYS))


def incident_response_kpi(*, now: datetime | None = None) -> dict[str, Any]:
    """Incident response times over the incidents detected in the last 90
    days, as detection defines them: time to detect from the activity's start
    to detection, time to resolve from detection to recovery (one query)."""
    now = now or timezone.now()
    # Aggregated in the database: the page never loads every incident.
    figures = _incidents_window(now).aggregate(
        incidents=Count("id"),
        resolved=Count("id", filter=Q(resolved_at__isnull=False)),
        detect=Avg(
            ExpressionWrapper(F("detected_at") - F("started_at"), output_field=DurationField())
        ),
        respond=Avg(
            ExpressionWrapper(F("resolved_at") - F("detected_at"), output_field=DurationField()),
            filter=Q(resolved_at__isnull=False),
        ),
    )
    return {
        "days": INCIDENT_DAYS,
        "incidents": figures["incidents"],
        "resolved": figures["resolved"],
        "mean_hours_to_detect": _hours(figures["detect"]),
        "mean_hours": _hours(figures["respond"]),
    }


def _hours(duration: timedelta | None) -> float | None:
    return round(duration.total_seconds() / 3600, 1) if duration is not None else None


def incidents_for_kpi(
    *, resolved_only: bool = False, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The incidents the response-time figures are computed from, newest first."""
    now = now or timezone.now()
    incidents = _incidents_window(now)
    if resolved_only:
        incidents = incidents.filter(resolved_at__isnull=False)
    return [
        {
            "incident": incident,
            "hours_to_detect": _hours(incident.detected_at - incident.started_at),
            "hours_to_resolve": _hours(incident.resolved_at - incident.detected_at)
            if incident.resolved_at
            else None,
        }
        for incident in incidents.order_by("-detected_at", "-id")
    ]


FINDING_STATUSES = ("closed", "open", "overdue")


def findings_for_kpi(
    *, status: str = "closed", now: datetime | None = None
) -> list[dict[str, Any]]:
    """The audit findings the closure figures count, one query.

    ``finding_closure_kpi`` (governance) reads every finding: its mean is over
    the closed ones, and it counts the open ones and those past their due
    date apart. Each list here holds exactly the rows behind one figure,
    with each closed finding's days from opening to closure as the KPI
    computes them.
    """
    from compliance.models.governance import AuditFinding

    today = (now or timezone.now()).date()
    findings = AuditFinding.objects.select_related("audit", "owner")
    if status == "closed":
        findings = findings.filter(closed_at__isnull=False).order_by("-closed_at", "-id")
    else:
        findings = findings.filter(closed_at__isnull=True).order_by("due_on", "id")
        if status == "overdue":
            findings = findings.filter(due_on__lt=today)
    return [
        {
            "finding": finding,
            "days": round((finding.closed_at - finding.opened_at).total_seconds() / 86400, 1)
            if finding.closed_at
            else None,
        }
        for finding in findings
    ]


def dashboard_page(*, now: datetime | None = None) -> dict[str, Any]:
    """Everything the executive dashboard shows, from stored rows."""
    from compliance import charts
    from compliance.governance.selectors import finding_closure_kpi
    from compliance.reports.data import ScorePoint

    now = now or timezone.now()
    run = latest_full_run()
    score = score_panel(run, now=now)
    categories = (
        list(CategoryScore.objects.filter(run=run).select_related("category")) if run else []
    )
    criteria = (
        list(
            CriterionScore.objects.filter(run=run)
            .select_related("criterion")
            .order_by("criterion__order")
        )
        if run
        else []
    )
    history = [
        ScorePoint(at=timezone.localtime(started), score=_decimal_percent(value))
        for started, value in _full_runs()
        .filter(started_at__gte=now - timedelta(days=TREND_DAYS))
        .order_by("started_at")
        .values_list("started_at", "score")
    ]
    items = action_items_open(now=now)
    return {
        "score": score,
        "categories": [
            {"code": s.category.code, "name": s.category.name, "display": score_display(s.score)}
            for s in categories
        ],
        "criteria": [
            {
                "code": s.criterion.code,
                "title": s.criterion.title,
                "display": score_display(s.score),
                "passing": s.controls_passing,
                "total": s.controls_total,
            }
            for s in criteria
        ],
        "trend": charts.score_trend_chart(history),
        "heatmap": heatmap(run),
        "action_items": items,
        "action_items_by_owner": action_items_by_owner(items),
        "overdue": sum(1 for row in items if row["overdue"]),
        "alerts": alerts_panel(),
        "findings": finding_closure_kpi(),
        "incidents": incident_response_kpi(now=now),
        "jobs": scheduled_jobs(now=now),
    }


# The page is the same for everyone allowed to see it, so it is computed once
# and served from the cache. A finished run or a raised alert (through
# dashboard_broadcast) moves the generation on, which makes the stored page
# stale; register edits broadcast nothing, so a page is also stale after half
# a minute. A stale page is recomputed by one request while the others keep
# serving it, so twenty clients never recompute it twenty times at once.
PAGE_CACHE_KEY = "dashboard:page"
PAGE_GENERATION_KEY = "dashboard:page:generation"
PAGE_LOCK_KEY = "dashboard:page:computing"
PAGE_FRESH_SECONDS = 30
PAGE_KEEP_SECONDS = 24 * 3600
PAGE_LOCK_SECONDS = 30


def dashboard_body_cached() -> SafeString:
    """The dashboard's content, rendered from its figures, from the cache.

    A hit costs one cache round trip and no query. Nothing in the page
    depends on the viewer.
    """
    import time

    from django.core.cache import cache
    from django.template.loader import render_to_string

    stored = cache.get_many([PAGE_CACHE_KEY, PAGE_GENERATION_KEY])
    entry = stored.get(PAGE_CACHE_KEY)
    generation = stored.get(PAGE_GENERATION_KEY, 0)
    fresh = (
        entry is not None
        and entry["generation"] == generation
        and entry["fresh_until"] > time.time()
    )
    # A stale page is served while another request is already computing.
    if not fresh and (
        entry is None or cache.add(PAGE_LOCK_KEY, generation, timeout=PAGE_LOCK_SECONDS)
    ):
        try:
            body = render_to_string("dashboard/_body.html", dashboard_page())
            entry = {
                "body": body,
                "generation": generation,
                "fresh_until": time.time() + PAGE_FRESH_SECONDS,
            }
            cache.set(PAGE_CACHE_KEY, entry, PAGE_KEEP_SECONDS)
        finally:
            cache.delete(PAGE_LOCK_KEY)
    assert entry is not None
    # Rendered by the template engine with autoescaping, so safe to embed.
    return mark_safe(entry["body"])  # noqa: S308


def dashboard_page_forget() -> None:
    """Make the cached page stale, so the next request computes it afresh."""
    import time

    from django.core.cache import cache

    # A new value, never an increment: set is atomic on every backend, and a
    # page computed while this runs stores the old generation, so it is
    # stale at once.
    cache.set(PAGE_GENERATION_KEY, time.time_ns(), PAGE_KEEP_SECONDS)


def _decimal_percent(fraction: float | None) -> Any:
    from decimal import Decimal

    return Decimal("0") if fraction is None else Decimal(f"{fraction * 100:.1f}")


# --- Controls and gaps -------------------------------------------------------

CONTROL_STATUSES = ("pass", "fail", "not_applicable", "not_run")


def control_list(
    run: Run | None,
    *,
    status: str = "",
    category: str = "",
    criterion: str = "",
) -> list[dict[str, Any]]:
    """Active controls with their status in ``run``, filtered (three queries)."""
    scores = {s.control_id: s for s in ControlScore.objects.filter(run=run)} if run else {}
    controls = Control.objects.filter(is_active=True).prefetch_related("criteria__category")
    rows = []
    for control in controls.order_by("code"):
        score = scores.get(control.pk)
        control_status = score.status if score else "not_run"
        codes = sorted(c.code for c in control.criteria.all())
        categories = {c.category.code for c in control.criteria.all()}
        if status and control_status != status:
            continue
        if category and category not in categories:
            continue
        if criterion and criterion not in codes:
            continue
        rows.append(
            {
                "control": control,
                "status": control_status,
                "criteria": codes,
                "score_display": score_display(score.score if score else None),
            }
        )
    return rows


def control_detail(code: str, *, now: datetime | None = None) -> dict[str, Any] | None:
    """One control: status, checks, attestations, evidence hashes, history."""
    from compliance.reports.data import _evidence_sha256

    now = now or timezone.now()
    control = (
        Control.objects.filter(code=code, is_active=True)
        .prefetch_related("criteria", "attestations__attested_by", "attestations__reviewed_by")
        .first()
    )
    if control is None:
        return None
    run = latest_full_run()
    check_ids = sorted(
        spec.id for spec in registry.registered().values() if control.code in spec.controls
    )
    specs = registry.registered()
    results = (
        {r.check_id: r for r in Result.objects.filter(run=run, check_id__in=check_ids)}
        if run
        else {}
    )
    score = ControlScore.objects.filter(run=run, control=control).first() if run else None
    history = list(
        ControlScore.objects.filter(control=control, run__scope=Run.Scope.FULL)
        .select_related("run")
        .order_by("-run__started_at")[:30]
    )
    return {
        "control": control,
        "run": run,
        "score": score,
        "status": score.status if score else "not_run",
        "criteria": sorted(c.code for c in control.criteria.all()),
        "checks": [
            {
                "id": check_id,
                "title": specs[check_id].title,
                "result": results.get(check_id),
                "sha256": _evidence_sha256(results[check_id].evidence)
                if check_id in results
                else "",
            }
            for check_id in check_ids
        ],
        "attestations": [
            {"attestation": a, "current": a.is_current(now)} for a in control.attestations.all()
        ],
        "history": history,
        "action_items": list(
            ActionItem.objects.filter(control=control).order_by("-opened_at")[:10]
        ),
    }


def gaps_by_criterion(run: Run | None) -> list[dict[str, Any]]:
    """Failing controls grouped under each criterion they map to."""
    groups: dict[str, dict[str, Any]] = {}
    items = {
        item.control_id: item
        for item in ActionItem.objects.exclude(status=ActionItem.Status.CLOSED)
    }
    scores = (
        ControlScore.objects.filter(run=run, status=ControlScore.Status.FAIL)
        .select_related("control")
        .prefetch_related("control__criteria")
        .order_by("control__code")
        if run
        else []
    )
    for score in scores:
        for criterion in sorted(score.control.criteria.all(), key=lambda c: c.order):
            group = groups.setdefault(
                criterion.code,
                {"code": criterion.code, "title": criterion.title, "order": criterion.order},
            )
            group.setdefault("controls", []).append(
                {"control": score.control, "item": items.get(score.control_id)}
            )
    return sorted(groups.values(), key=lambda group: group["order"])
