"""Running the checks: one run, one result per check, scores, gaps.

Runs never overlap: a session-level lock (PostgreSQL advisory lock) keeps a
second runner out, and the ``one running run`` constraint is the row claim
that also holds on SQLite, where the lock is a no-op.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.utils import timezone

from cloudexpress import dbvendor
from compliance import gaps
from compliance.catalog import catalog_ensure, control_codes_by_criterion
from compliance.checks import registry
from compliance.dashboard.services import dashboard_broadcast
from compliance.models import (
    Attestation,
    Category,
    CategoryScore,
    Control,
    ControlScore,
    Criterion,
    CriterionScore,
    Framework,
    Result,
    ResultStatus,
    Run,
)
from compliance.scoring import ControlInput, ScoreSheet, score_sheet

logger = logging.getLogger(__name__)

LOCK_NAME = "compliance.run_checks"
# On SQLite there is no lock to prove a running row's owner is alive; a row
# older than this is taken as abandoned.
STALE_AFTER = timedelta(hours=1)


class RunInProgress(Exception):
    """Another run holds the lock or the running row."""


def _abandon_stale(now: datetime, *, lock_held: bool) -> int:
    running = Run.objects.filter(status=Run.Status.RUNNING)
    if not (lock_held and dbvendor.is_postgresql()):
        running = running.filter(started_at__lt=now - STALE_AFTER)
    return running.update(
        status=Run.Status.FAILED, finished_at=now, error="abandoned: its runner stopped"
    )


def checks_run(
    *, only: list[str] | None = None, trigger: str = "manual", now: datetime | None = None
) -> Run:
    """Evaluate every registered check (or only the named ones) as one run.

    Raise ``RunInProgress`` when another run is going on, and ``KeyError``
    for an unknown check id.
    """
    framework = catalog_ensure()
    checks = registry.registered()
    if only:
        checks = {check_id: registry.get(check_id) for check_id in only}

    if not dbvendor.try_lock_for_session(LOCK_NAME):
        raise RunInProgress("another compliance run holds the lock")
    try:
        started = now or timezone.now()
        _abandon_stale(started, lock_held=True)
        try:
            with transaction.atomic():
                run = Run.objects.create(
                    framework=framework,
                    started_at=started,
                    trigger=trigger[:40],
                    scope=Run.Scope.PARTIAL if only else Run.Scope.FULL,
                )
        except IntegrityError:
            raise RunInProgress("another compliance run is in progress") from None
        try:
            _execute(run, framework, checks, started)
        except Exception as exc:
            Run.objects.filter(pk=run.pk).update(
                status=Run.Status.FAILED, finished_at=timezone.now(), error=str(exc)[:2000]
            )
            logger.exception("compliance.run_failed", extra={"run_id": run.pk})
            raise
    finally:
        dbvendor.unlock_session(LOCK_NAME)
    run.refresh_from_db()
    transaction.on_commit(lambda: dashboard_broadcast(reason="run_finished"))
    logger.info(
        "compliance.run_finished",
        extra={"run_id": run.pk, "score": run.score, "checks": run.checks_total},
    )
    return run


def _execute(
    run: Run, framework: Framework, checks: dict[str, registry.CheckSpec], now: datetime
) -> None:
    context = registry.CheckContext(now=now, run_id=run.pk)
    results = []
    for spec in checks.values():
        # evaluate() never raises: a failing check cannot stop the others.
        evaluation = registry.evaluate(spec, context)
        outcome = evaluation.outcome
        results.append(
            Result(
                run=run,
                check_id=spec.id,
                status=outcome.status,
                reason=outcome.reason,
                evidence=outcome.evidence,
                failing_objects=outcome.failing,
                weight=spec.weight,
                query_count=evaluation.query_count,
                duration_ms=round(evaluation.duration_ms, 2),
                checked_at=timezone.now(),
            )
        )
    with transaction.atomic():
        Result.objects.bulk_create(results)
        passing = sum(1 for r in results if r.status == ResultStatus.PASS)
        fields = {
            "checks_total": len(results),
            "checks_passing": passing,
            "status": Run.Status.DONE,
            "finished_at": timezone.now(),
        }
        if run.scope == Run.Scope.FULL:
            sheet = run_score(run, framework, checks, results, now)
            fields.update(
                score=sheet.overall,
                coverage=sheet.coverage,
                controls_total=sum(
                    1 for c in sheet.controls.values() if c.status != "not_applicable"
                ),
                controls_passing=sum(1 for c in sheet.controls.values() if c.status == "pass"),
            )
            gaps.action_items_sync(run, sheet, now)
        Run.objects.filter(pk=run.pk).update(**fields)


def control_inputs(checks: dict[str, registry.CheckSpec], now: datetime) -> list[ControlInput]:
    """The active controls with their checks and attestation state."""
    check_ids: dict[str, list[str]] = {}
    for spec in checks.values():
        for code in spec.controls:
            check_ids.setdefault(code, []).append(spec.id)
    controls = Control.objects.filter(is_active=True).prefetch_related(
        Prefetch(
            "attestations",
            queryset=Attestation.objects.only("control_id", "reviewed_at", "expires_at"),
        )
    )
    inputs = []
    for control in controls:
        attestations = list(control.attestations.all())
        current = any(a.is_current(now) for a in attestations)
        expired = [a.expires_at for a in attestations if a.expires_at <= now]
        inputs.append(
            ControlInput(
                code=control.code,
                requires_attestation=control.requires_attestation,
                check_ids=sorted(check_ids.get(control.code, [])),
                attestation_current=current,
                attestation_expired_at=max(expired).date().isoformat()
                if expired and not current
                else None,
            )
        )
    return inputs


def run_score(
    run: Run,
    framework: Framework,
    checks: dict[str, registry.CheckSpec],
    results: list[Result],
    now: datetime,
) -> ScoreSheet:
    """Compute and store the scores of a full run."""
    inputs = control_inputs(checks, now)
    criteria = list(
        Criterion.objects.filter(framework=framework).select_related("category").order_by("order")
    )
    categories = list(Category.objects.filter(framework=framework).order_by("order"))
    sheet = score_sheet(
        controls=inputs,
        results={r.check_id: (r.status, r.weight, r.reason) for r in results},
        criteria=[(c.code, c.category.code) for c in criteria],
        categories=[c.code for c in categories],
        controls_by_criterion=control_codes_by_criterion(framework),
    )

    control_pks = dict(Control.objects.filter(is_active=True).values_list("code", "pk"))
    ControlScore.objects.bulk_create(
        [
            ControlScore(
                run=run,
                control_id=control_pks[o.code],
                status=o.status,
                score=o.score,
                coverage=o.coverage,
                reasons=o.reasons,
            )
            for o in sheet.controls.values()
        ]
    )
    criterion_pks = {c.code: c.pk for c in criteria}
    CriterionScore.objects.bulk_create(
        [
            CriterionScore(
                run=run,
                criterion_id=criterion_pks[o.code],
                score=o.score,
                passed=o.passed,
                controls_total=o.controls_total,
                controls_passing=o.controls_passing,
                coverage=o.coverage,
            )
            for o in sheet.criteria
        ]
    )
    category_pks = {c.code: c.pk for c in categories}
    CategoryScore.objects.bulk_create(
        [
            CategoryScore(
                run=run,
                category_id=category_pks[o.code],
                score=o.score,
                criteria_total=o.criteria_total,
                criteria_passing=o.criteria_passing,
            )
            for o in sheet.categories
        ]
    )
    return sheet
