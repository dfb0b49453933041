"""Reads of the compliance engine, shared by pages, API, tasks and commands."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from compliance.checks import registry
from compliance.models import (
    ActionItem,
    CategoryScore,
    Control,
    ControlScore,
    CriterionScore,
    JobRun,
    Result,
    Run,
)
from compliance.scoring import FORMULA_SUMMARY, FORMULA_VERSION

VIEW_PERMISSION = "controls.view"


def home_summary() -> dict[str, Any]:
    from accounts.models import Membership, Organization, User

    organizations = Organization.objects.aggregate(
        total=Count("id"), operators=Count("id", filter=Q(is_operator=True))
    )
    return {
        "organizations": organizations["total"],
        "users": User.objects.filter(terminated_at=None).count(),
        "memberships": Membership.objects.filter(status=Membership.Status.ACTIVE).count(),
        "last_heartbeat": JobRun.objects.filter(job="heartbeat").order_by("-started_at").first(),
    }


def user_has_permission(user: Any, code: str) -> bool:
    """Whether ``user`` holds permission ``code`` through a current membership
    of the operator organization.

    The compliance program is the operator's, so the question is asked of
    accounts.authorization in the operator organization (its default when
    no organization is named), which follows roles' parents and expiry. The
    staff flag grants nothing here, as it grants nothing there: one rule for
    every door to platform-wide data.
    """
    from accounts.authorization import user_has_perm

    return user_has_perm(user, code)


def user_can_view_controls(user: Any) -> bool:
    return user_has_permission(user, VIEW_PERMISSION)


def score_display(score: float | None) -> str:
    """The one way a score is written, on the page, the API and the command."""
    return "no score" if score is None else f"{score * 100:.1f}%"


def latest_full_run() -> Run | None:
    return (
        Run.objects.filter(status=Run.Status.DONE, scope=Run.Scope.FULL)
        .select_related("framework")
        .order_by("-started_at", "-id")
        .first()
    )


def run_summary(run: Run | None) -> dict[str, Any]:
    if run is None:
        return {"run": None, "score": None, "score_display": score_display(None)}
    return {
        "run_id": run.pk,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "framework_version": run.framework.version,
        "score": None if run.score is None else round(run.score, 4),
        "score_percent": run.score_percent,
        "score_display": score_display(run.score),
        "controls_total": run.controls_total,
        "controls_passing": run.controls_passing,
        "checks_total": run.checks_total,
        "checks_passing": run.checks_passing,
        "coverage": run.coverage,
        "formula": FORMULA_SUMMARY,
        "formula_version": FORMULA_VERSION,
    }


def category_scores(run: Run) -> list[dict[str, Any]]:
    return [
        {
            "code": s.category.code,
            "name": s.category.name,
            "score": s.score,
            "score_display": score_display(s.score),
            "criteria_total": s.criteria_total,
            "criteria_passing": s.criteria_passing,
        }
        for s in CategoryScore.objects.filter(run=run).select_related("category")
    ]


def criterion_scores(run: Run) -> list[dict[str, Any]]:
    return [
        {
            "code": s.criterion.code,
            "title": s.criterion.title,
            "category": s.criterion.category.code,
            "score": s.score,
            "score_display": score_display(s.score),
            "passed": s.passed,
            "controls_total": s.controls_total,
            "controls_passing": s.controls_passing,
            "coverage": s.coverage,
        }
        for s in CriterionScore.objects.filter(run=run)
        .select_related("criterion__category")
        .order_by("criterion__order")
    ]


def controls_with_status(run: Run | None, *, with_evidence: bool = True) -> list[dict[str, Any]]:
    """Every active control with its status in ``run``, its checks' results
    and its open action item; a fixed number of queries."""
    checks = registry.registered()
    checks_by_control: dict[str, list[str]] = {}
    for spec in checks.values():
        for code in spec.controls:
            checks_by_control.setdefault(code, []).append(spec.id)

    scores = {}
    results: dict[str, Result] = {}
    if run is not None:
        scores = {s.control_id: s for s in ControlScore.objects.filter(run=run)}
        results = {r.check_id: r for r in Result.objects.filter(run=run)}
    open_items = {
        item.control_id: item
        for item in ActionItem.objects.exclude(status=ActionItem.Status.CLOSED)
    }
    now = timezone.now()
    rows = []
    controls = Control.objects.filter(is_active=True).prefetch_related("criteria", "attestations")
    for control in controls.order_by("code"):
        score = scores.get(control.pk)
        attestations = list(control.attestations.all())
        current = [a for a in attestations if a.is_current(now)]
        check_rows = []
        for check_id in sorted(checks_by_control.get(control.code, [])):
            result = results.get(check_id)
            row: dict[str, Any] = {
                "id": check_id,
                "title": checks[check_id].title,
                "weight": checks[check_id].weight,
                "status": result.status if result else "not_run",
                "reason": result.reason if result else "",
            }
            if with_evidence and result is not None:
                row["evidence"] = result.evidence
                row["failing_objects"] = result.failing_objects
            check_rows.append(row)
        item = open_items.get(control.pk)
        rows.append(
            {
                "code": control.code,
                "document_label": control.document_label,
                "name": control.name,
                "description": control.description,
                "owner": control.owner_title,
                "severity": control.severity,
                "requires_attestation": control.requires_attestation,
                "criteria": sorted({c.code for c in control.criteria.all()}),
                "status": score.status if score else "not_run",
                "score": score.score if score else None,
                "score_display": score_display(score.score if score else None),
                "coverage": score.coverage if score else "none",
                "reasons": score.reasons if score else [],
                "checks": check_rows,
                "attestation": {
                    "current": bool(current),
                    "expires_at": max((a.expires_at for a in current), default=None),
                    "count": len(attestations),
                },
                "action_item": None
                if item is None
                else {
                    "status": item.status,
                    "owner": item.owner_title,
                    "due_at": item.due_at,
                    "opened_at": item.opened_at,
                },
            }
        )
    return rows


def not_applicable_reasons(run: Run) -> list[dict[str, str]]:
    return [
        {"check_id": check_id, "reason": reason}
        for check_id, reason in Result.objects.filter(
            run=run, status="not_applicable"
        ).values_list("check_id", "reason")
    ]


def soc2_report(run: Run | None) -> dict[str, Any]:
    """The full report of a run: the same numbers the page shows."""
    summary = run_summary(run)
    if run is None:
        return {**summary, "categories": [], "criteria": [], "controls": [], "results": []}
    results = [
        {
            "check_id": r.check_id,
            "status": r.status,
            "reason": r.reason,
            "weight": r.weight,
            "evidence": r.evidence,
            "failing_objects": r.failing_objects,
            "checked_at": r.checked_at,
        }
        for r in Result.objects.filter(run=run).order_by("check_id")
    ]
    return {
        **summary,
        "categories": category_scores(run),
        "criteria": criterion_scores(run),
        "controls": controls_with_status(run, with_evidence=False),
        "results": results,
        "not_applicable": not_applicable_reasons(run),
    }


def overview_page(run: Run | None) -> dict[str, Any]:
    """Everything the compliance page shows."""
    summary = run_summary(run)
    if run is None:
        return {"summary": summary, "categories": [], "criteria": [], "controls": []}
    return {
        "summary": summary,
        "categories": category_scores(run),
        "criteria": criterion_scores(run),
        "controls": controls_with_status(run, with_evidence=False),
        "not_applicable": not_applicable_reasons(run),
    }


def _day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def score_history(start: date, end: date) -> list[dict[str, Any]]:
    """Full runs between two dates (inclusive) with their scores."""
    low, high = _day_bounds(start, end)
    runs = list(
        Run.objects.filter(
            status=Run.Status.DONE,
            scope=Run.Scope.FULL,
            started_at__gte=low,
            started_at__lt=high,
        )
        .select_related("framework")
        .order_by("started_at")
    )
    by_run: dict[int, dict[str, float | None]] = {}
    for run_id, code, score in CategoryScore.objects.filter(run__in=runs).values_list(
        "run_id", "category__code", "score"
    ):
        by_run.setdefault(run_id, {})[code] = score
    return [
        {
            "run_id": run.pk,
            "started_at": run.started_at,
            "framework_version": run.framework.version,
            "score": run.score,
            "score_display": score_display(run.score),
            "categories": by_run.get(run.pk, {}),
        }
        for run in runs
    ]


def security_report(now: datetime | None = None) -> dict[str, Any]:
    """The security view: the common criteria's score, failing security
    checks, and the last 30 days of security events by type and severity."""
    from audit.models import SecurityEvent

    now = now or timezone.now()
    run = latest_full_run()
    since = now - timedelta(days=30)
    events = SecurityEvent.objects.filter(occurred_at__gte=since)
    by_type = dict(
        events.values_list("event_type").annotate(n=Count("id")).values_list("event_type", "n")
    )
    by_severity = dict(
        events.values_list("severity").annotate(n=Count("id")).values_list("severity", "n")
    )
    security = None
    failing: list[dict[str, Any]] = []
    if run is not None:
        security = next((c for c in category_scores(run) if c["code"] == "CC"), None)
        security_ids = {
            spec.id
            for spec in registry.registered().values()
            if not spec.id.startswith(("p-", "gov-"))
        }
        failing = [
            {
                "check_id": r.check_id,
                "status": r.status,
                "reason": r.reason,
                "failing_objects": r.failing_objects,
            }
            for r in Result.objects.filter(run=run)
            .exclude(status__in=("pass", "not_applicable"))
            .order_by("check_id")
            if r.check_id in security_ids
        ]
    return {
        "run_id": run.pk if run else None,
        "generated_at": now,
        "security_score": security,
        "failing_checks": failing,
        "events": {
            "since": since,
            "total": sum(by_type.values()),
            "by_type": by_type,
            "by_severity": by_severity,
        },
    }
