"""Type II readiness over an observation window."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compliance import models
from compliance.catalog import catalog_ensure
from compliance.models import Control, ControlScore, CriterionScore, JobRun, Run
from compliance.readiness import readiness_for_window
from tests.compliance import governance_factories as gf

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.get_current_timezone())


def at(day: date, hour: int = 2) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=NOW.tzinfo)


def full_run(day: date, *, failing: set[str] = frozenset(), hour: int = 2) -> Run:
    framework = catalog_ensure()
    run = Run.objects.create(
        framework=framework,
        status=Run.Status.DONE,
        started_at=at(day, hour),
        finished_at=at(day, hour),
    )
    CriterionScore.objects.bulk_create(
        CriterionScore(
            run=run,
            criterion=c,
            score=0.0 if c.code in failing else 1.0,
            passed=c.code not in failing,
            coverage="automatic",
        )
        for c in framework.criteria.all()
    )
    return run


def test_share_of_days_misses_by_date_and_blockers() -> None:
    start = date(2026, 11, 1)
    end = date(2026, 11, 10)
    for offset in range(10):
        day = start + timedelta(days=offset)
        if offset == 4:
            continue  # no compliance run that day
        full_run(day, failing={"CC6.1"} if offset in (1, 2) else set())
    # A failing run early on a day is decided by that day's later passing run.
    full_run(start + timedelta(days=7), failing={"CC7.2"}, hour=1)
    JobRun.objects.bulk_create(
        JobRun(
            job="retention",
            slot="",
            status=JobRun.Status.DONE,
            started_at=at(start + timedelta(days=n)),
        )
        for n in range(10)
        if n != 6
    )

    report = readiness_for_window(start, end, now=NOW)
    criteria = {row["code"]: row for row in report["criteria"]}
    assert criteria["CC6.1"]["days_passed"] == 7
    assert criteria["CC6.1"]["share"] == 0.7
    assert criteria["CC6.1"]["days_not_passed"] == ["2026-11-02", "2026-11-03", "2026-11-05"]
    assert criteria["CC7.2"]["days_passed"] == 9

    recurring = {row["job"]: row for row in report["recurring"]}
    assert recurring["compliance.run_checks"]["expected"] == 10
    assert recurring["compliance.run_checks"]["misses"] == [{"date": "2026-11-05"}]
    assert recurring["retention"]["recorded"] == 9
    assert recurring["retention"]["misses"] == [{"date": "2026-11-07"}]
    backups = recurring["backup"]
    assert backups["expected"] == 240 and backups["missed"] == 240
    assert backups["misses"][0] == {
        "date": "2026-11-01",
        "missing_hours": [f"{h:02d}:00" for h in range(24)],
    }
    assert recurring["accounts.access_review_start"]["expected"] == 1  # 2026-Q4

    assert not report["ready"]
    blockers = " | ".join(report["blockers"])
    assert "spans 10 days" in blockers
    assert "1 day(s) without a compliance run" in blockers
    assert "CC6.1 passed on 7 of 10 days" in blockers
    assert "Daily retention run: 1 missed" in blockers


def test_a_fully_covered_window_is_ready() -> None:
    end = date(2026, 12, 3)
    start = end - timedelta(days=89)
    days = [start + timedelta(days=n) for n in range(90)]
    for day in days:
        full_run(day)
    rows = [JobRun(job="retention", started_at=at(d), status="done") for d in days]
    rows += [
        JobRun(job="backup", started_at=at(d, h), status="done") for d in days for h in range(24)
    ]
    rows += [
        JobRun(job="accounts.access_review_start", started_at=at(d), status="done")
        for d in (date(2026, 9, 15), date(2026, 10, 15))
    ]
    JobRun.objects.bulk_create(rows)
    # The refresher and the DR test are recorded in the registers.
    _refresher_completed(at(date(2026, 10, 1)))
    _dr_test_performed(at(date(2026, 11, 20)))

    report = readiness_for_window(start, end, now=NOW)
    assert report["blockers"] == []
    assert report["ready"] is True
    assert all(row["share"] == 1.0 for row in report["criteria"])
    assert all(row["missed"] == 0 for row in report["recurring"])


def _refresher_completed(when: datetime) -> None:
    module = gf.TrainingModuleFactory(kind=models.TrainingModule.Kind.ANNUAL_REFRESHER)
    models.TrainingCompletion.objects.create(
        module=module, user=gf.member().user, completed_at=when
    )


def _dr_test_performed(when: datetime) -> None:
    plan = gf.PlanFactory()
    models.DisasterRecoveryTest.objects.create(
        plan=plan,
        kind=models.DisasterRecoveryTest.Kind.TABLETOP,
        performed_at=when,
        measured_rto_minutes=120,
        measured_rpo_minutes=30,
        conducted_by=plan.owner,
    )


def test_training_and_dr_occurrences_come_from_the_registers() -> None:
    start, end = date(2025, 6, 1), date(2026, 12, 3)
    full_run(end)
    # A JobRun under the old placeholder key counts for nothing: no job runs it.
    JobRun.objects.create(job="compliance.dr_test", started_at=at(date(2026, 3, 1)), status="done")
    # Onboarding completions are not the refresher.
    onboarding = gf.TrainingModuleFactory(kind=models.TrainingModule.Kind.ONBOARDING)
    models.TrainingCompletion.objects.create(
        module=onboarding, user=gf.member().user, completed_at=at(date(2025, 7, 1))
    )
    _refresher_completed(at(date(2026, 2, 10)))
    _refresher_completed(at(date(2026, 4, 10)))  # the same year: one occurrence
    _dr_test_performed(at(date(2025, 9, 1)))

    with CaptureQueriesContext(connection) as counted:
        report = readiness_for_window(start, end, now=NOW)
    recurring = {row["job"]: row for row in report["recurring"]}
    training = recurring["compliance.training_refresher"]
    assert (training["expected"], training["recorded"]) == (2, 1)
    assert training["misses"] == [{"date": "2025"}]
    dr = recurring["compliance.dr_test"]
    assert (dr["expected"], dr["recorded"]) == (2, 1)
    assert dr["misses"] == [{"date": "2026"}]
    assert "Annual disaster recovery test: 1 missed occurrence(s)" in report["blockers"]

    # More rows, the same queries.
    for month in (5, 6, 7):
        _refresher_completed(at(date(2026, month, 1)))
        _dr_test_performed(at(date(2026, month, 2)))
    with CaptureQueriesContext(connection) as more:
        report = readiness_for_window(start, end, now=NOW)
    recurring = {row["job"]: row for row in report["recurring"]}
    assert recurring["compliance.dr_test"]["missed"] == 0
    assert len(more) == len(counted)


def test_a_failing_control_in_the_latest_run_blocks() -> None:
    run = full_run(date(2026, 12, 3))
    ControlScore.objects.create(
        run=run,
        control=Control.objects.get(code="CX-ORG-01"),
        status="fail",
        score=0.0,
        coverage="automatic",
    )
    report = readiness_for_window(date(2026, 12, 3), date(2026, 12, 3), now=NOW)
    assert report["failing_controls"] == ["CX-ORG-01"]
    assert "1 control(s) fail in the latest run" in report["blockers"]


def test_readiness_runs_a_fixed_number_of_queries() -> None:
    end = date(2026, 12, 3)
    full_run(end)
    with CaptureQueriesContext(connection) as few:
        readiness_for_window(end - timedelta(days=5), end, now=NOW)
    for n in range(1, 30):
        full_run(end - timedelta(days=n))
    with CaptureQueriesContext(connection) as many:
        readiness_for_window(end - timedelta(days=60), end, now=NOW)
    assert len(few) == len(many)


def test_a_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="ends before it starts"):
        readiness_for_window(date(2026, 11, 5), date(2026, 11, 1), now=NOW)
