"""Runs: one result per check, errors contained, no overlap, gaps, the
daily task, attestations, and queries that do not grow with the data."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.utils import timezone

from accounts.models import Organization
from cloudexpress.api.exceptions import ServiceError
from compliance import attestations
from compliance.catalog import catalog_ensure
from compliance.checks import registry
from compliance.models import (
    ActionItem,
    CategoryScore,
    Control,
    ControlScore,
    CriterionScore,
    JobRun,
    Result,
    ResultStatus,
    Run,
)
from compliance.runs import LOCK_NAME, RunInProgress, checks_run
from compliance.tasks import run_checks_task
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_full_run_stores_one_result_per_check_and_every_score() -> None:
    run = checks_run()
    checks = registry.registered()
    assert run.status == Run.Status.DONE
    assert set(run.results.values_list("check_id", flat=True)) == set(checks)
    assert run.checks_total == len(checks)
    assert ControlScore.objects.filter(run=run).count() == Control.objects.count()
    assert CriterionScore.objects.filter(run=run).count() == 61
    assert CategoryScore.objects.filter(run=run).count() == 5
    assert 0 <= run.score <= 1
    assert run.coverage["controls_total"] == Control.objects.count()


def test_a_check_that_raises_is_an_error_and_the_others_still_run() -> None:
    def explodes(ctx: registry.CheckContext) -> registry.Outcome:
        raise RuntimeError("boom")

    with registry.temporary("zz-explodes", explodes, ["CX-MON-01"]):
        run = checks_run()
    result = run.results.get(check_id="zz-explodes")
    assert result.status == ResultStatus.ERROR
    assert "RuntimeError: boom" in result.reason
    assert run.results.count() == len(registry.registered()) + 1
    assert run.status == Run.Status.DONE


def test_a_check_that_writes_is_rolled_back() -> None:
    def writes(ctx: registry.CheckContext) -> registry.Outcome:
        Organization.objects.create(name="Written by a check", slug="written-by-a-check")
        return registry.passed("wrote")

    with registry.temporary("zz-writes", writes, ["CX-MON-01"]):
        evaluation = registry.evaluate(registry.get("zz-writes"))
    assert evaluation.outcome.status == ResultStatus.PASS
    assert not Organization.objects.filter(slug="written-by-a-check").exists()


def test_a_database_error_inside_a_check_does_not_poison_the_run() -> None:
    def bad_sql(ctx: registry.CheckContext) -> registry.Outcome:
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")
        return registry.passed()

    with registry.temporary("zz-bad-sql", bad_sql, ["CX-MON-01"]):
        run = checks_run()
    assert run.results.get(check_id="zz-bad-sql").status == ResultStatus.ERROR
    assert run.results.get(check_id="cc-debug-off").status == ResultStatus.PASS


def test_not_applicable_without_a_reason_is_an_error() -> None:
    def silent(ctx: registry.CheckContext) -> registry.Outcome:
        return registry.Outcome(ResultStatus.NOT_APPLICABLE, "")

    with registry.temporary("zz-silent", silent, ["CX-MON-01"]):
        outcome = registry.evaluate(registry.get("zz-silent")).outcome
    assert outcome.status == ResultStatus.ERROR
    assert "reason" in outcome.reason


def test_only_runs_one_check_and_scores_nothing() -> None:
    out = StringIO()
    call_command("run_checks", "--only", "cc-debug-off", stdout=out)
    run = Run.objects.get()
    assert run.scope == Run.Scope.PARTIAL
    assert list(run.results.values_list("check_id", flat=True)) == ["cc-debug-off"]
    assert run.score is None and not run.control_scores.exists()
    assert "partial run" in out.getvalue()
    with pytest.raises(CommandError, match="no check is registered"):
        call_command("run_checks", "--only", "no-such-check", stdout=StringIO())


def test_a_running_row_keeps_a_second_run_out() -> None:
    Run.objects.create(
        framework=catalog_ensure(), status=Run.Status.RUNNING, started_at=timezone.now()
    )
    # On PostgreSQL the lock is free, so a running row whose owner holds no
    # lock is abandoned; the new run then goes ahead.
    run = checks_run()
    assert Run.objects.filter(status=Run.Status.FAILED, error__startswith="abandoned").count() == 1
    assert run.status == Run.Status.DONE


@pytest.mark.django_db(transaction=True)
def test_runs_never_overlap_across_connections() -> None:
    """Two runners on separate connections: the second is refused while the
    first holds the lock, and exactly one run is recorded."""
    entered = threading.Event()
    release = threading.Event()

    def blocks(ctx: registry.CheckContext) -> registry.Outcome:
        entered.set()
        assert release.wait(timeout=30)
        return registry.passed()

    outcome: dict[str, Any] = {}

    def first_runner() -> None:
        try:
            outcome["run"] = checks_run(only=["zz-blocks"])
        except Exception as exc:  # the assertion below shows it
            outcome["error"] = exc
        finally:
            connections.close_all()

    with registry.temporary("zz-blocks", blocks, ["CX-MON-01"]):
        catalog_ensure()
        thread = threading.Thread(target=first_runner)
        thread.start()
        assert entered.wait(timeout=30)
        with pytest.raises(RunInProgress):
            checks_run(only=["cc-debug-off"])
        release.set()
        thread.join(timeout=60)
    assert "error" not in outcome, outcome.get("error")
    assert Run.objects.count() == 1
    assert Run.objects.get().status == Run.Status.DONE


@pytest.mark.django_db(transaction=True)
def test_the_lock_held_elsewhere_refuses_a_run() -> None:
    from cloudexpress import dbvendor

    if not dbvendor.is_postgresql():
        pytest.skip("advisory locks are PostgreSQL's")
    catalog_ensure()
    # The same runner works while nobody holds the lock...
    assert checks_run(only=["cc-debug-off"]).status == Run.Status.DONE

    holder = threading.Event()
    done = threading.Event()

    def hold() -> None:
        assert dbvendor.try_lock_for_session(LOCK_NAME)
        holder.set()
        done.wait(timeout=30)
        dbvendor.unlock_session(LOCK_NAME)
        connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    assert holder.wait(timeout=30)
    try:
        with pytest.raises(RunInProgress, match="lock"):
            checks_run(only=["cc-debug-off"])
    finally:
        done.set()
        thread.join(timeout=30)
    assert Run.objects.count() == 1


def test_failing_controls_open_one_action_item_and_a_passing_run_closes_it(
    settings: Any,
) -> None:
    settings.DEBUG = True
    first = checks_run()
    item = ActionItem.objects.get(control__code="CX-THR-01")
    control = Control.objects.get(code="CX-THR-01")
    assert item.status == ActionItem.Status.OPEN
    assert item.owner_title == control.owner_title
    assert item.due_at == first.started_at + timedelta(days=14)  # high severity
    assert "cc-debug-off: fail" in item.summary

    checks_run()
    item.refresh_from_db()
    assert item.times_seen == 2
    assert ActionItem.objects.filter(control=control).count() == 1

    settings.DEBUG = False
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
        "DEFAULT_THROTTLE_RATES": {"user": "100/hour", "anon": "10/hour"},
    }
    third = checks_run()
    item.refresh_from_db()
    assert ControlScore.objects.get(run=third, control=control).status == "pass"
    assert item.status == ActionItem.Status.CLOSED
    assert item.closed_by_run == third
    assert f"Closed by run #{third.pk}" in item.close_note


def test_an_expired_attestation_fails_its_control_and_a_current_one_passes(
    settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    catalog_ensure()
    control = Control.objects.get(code="CX-PHY-01")  # attestation only
    owner, reviewer = UserFactory(), UserFactory()
    now = timezone.now()

    with time_machine.travel(now - timedelta(days=400)):
        old = attestations.attestation_create(
            control=control,
            upload=b"last year's review",
            file_name="2025.pdf",
            statement="Reviewed",
            attested_by=owner,
            expires_at=now - timedelta(days=35),
        )
        attestations.attestation_review(attestation=old, reviewer=reviewer)
    run = checks_run()
    score = ControlScore.objects.get(run=run, control=control)
    assert score.status == "fail"
    assert any("attestation expired on" in reason for reason in score.reasons)

    fresh = attestations.attestation_create(
        control=control,
        upload=b"this year's review",
        file_name="2026.pdf",
        statement="Reviewed",
        attested_by=owner,
        expires_at=now + timedelta(days=300),
        classification="restricted",
    )
    import hashlib

    assert fresh.sha256 == hashlib.sha256(b"this year's review").hexdigest()
    assert fresh.size == len(b"this year's review")
    # Not yet reviewed: it does not count.
    assert ControlScore.objects.get(run=checks_run(), control=control).status == "fail"
    with pytest.raises(ServiceError, match="cannot review their own"):
        attestations.attestation_review(attestation=fresh, reviewer=owner)
    attestations.attestation_review(attestation=fresh, reviewer=reviewer)
    score = ControlScore.objects.get(run=checks_run(), control=control)
    assert score.status == "pass" and score.coverage == "attestation"


def test_the_daily_task_runs_once_per_day_and_catches_up_the_next() -> None:
    day = timezone.now().replace(hour=3, minute=0, second=0, microsecond=0)
    with time_machine.travel(day, tick=False):
        first = run_checks_task.apply().get()
        again = run_checks_task.apply().get()
    assert first is not None and again is None
    assert Run.objects.count() == 1
    job = JobRun.objects.get(job="compliance.run_checks")
    assert job.slot == day.date().isoformat() and job.status == JobRun.Status.DONE
    assert job.counts["run_id"] == first

    with time_machine.travel(day + timedelta(days=1, hours=5), tick=False):
        assert run_checks_task.apply().get() is not None
    assert Run.objects.count() == 2
    assert JobRun.objects.filter(job="compliance.run_checks").count() == 2


def test_the_daily_task_is_on_beat() -> None:
    from cloudexpress.beat import BEAT_SCHEDULE

    assert any(e["task"] == "compliance.run_checks" for e in BEAT_SCHEDULE.values())


def _queries_per_check() -> dict[str, int]:
    run = checks_run()
    return dict(Result.objects.filter(run=run).values_list("check_id", "query_count"))


def test_queries_per_check_do_not_grow_with_the_rows() -> None:
    from accounts.services import roles_builtin_ensure
    from audit.models import SecurityEvent
    from audit.services import security_event_record

    roles = roles_builtin_ensure()

    def grow(n: int) -> None:
        for _ in range(n):
            organization = OrganizationFactory()
            MembershipFactory(organization=organization, role=roles["owner"])
            MembershipFactory(
                organization=organization,
                role=roles["member"],
                user=UserFactory(terminated_at=timezone.now(), is_active=False),
            )
            security_event_record(event_type=SecurityEvent.Type.SIGN_IN_FAILED)

    grow(2)
    small = _queries_per_check()
    grow(20)
    large = _queries_per_check()
    assert small == large


def test_evidence_with_dates_and_durations_is_stored_as_text() -> None:
    def odd(ctx: registry.CheckContext) -> registry.Outcome:
        return registry.passed(when=ctx.now, window=timedelta(hours=1), id=uuid.uuid4())

    with registry.temporary("zz-odd-evidence", odd, ["CX-MON-01"]):
        run = checks_run(only=["zz-odd-evidence"])
    evidence = run.results.get().evidence
    assert isinstance(evidence["when"], str) and isinstance(evidence["id"], str)
    assert evidence["window"]
