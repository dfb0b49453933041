"""Periodic tasks without a record of their own get a JobRun from the
worker's task signals: running while they run, then done or failed."""

from __future__ import annotations

import pytest
from django.utils import timezone

from cloudexpress.jobruns import RECORDED_TASKS
from cloudexpress.operations import scheduled_jobs
from compliance.models import JobRun
from compliance.privacy import usage
from compliance.privacy.tasks import usage_flush_task

pytestmark = pytest.mark.django_db


def test_a_task_without_its_own_record_gets_a_done_job_run() -> None:
    result = usage_flush_task.apply()
    assert result.successful()

    run = JobRun.objects.get(job="compliance.usage_flush")
    assert run.status == JobRun.Status.DONE and run.finished_at is not None
    assert run.counts == {"task_id": result.id, "result": result.get()}


def test_a_failing_task_is_recorded_as_failed_with_its_exception_type(monkeypatch) -> None:
    def broken() -> int:
        raise RuntimeError("the cache is gone")

    monkeypatch.setattr(usage, "usage_flush", broken)
    usage_flush_task.apply()

    run = JobRun.objects.get(job="compliance.usage_flush")
    assert run.status == JobRun.Status.FAILED and run.error == "RuntimeError"
    # The message (which could carry personal data) is not stored.
    assert "cache" not in run.error


def test_tasks_that_record_themselves_are_not_recorded_twice() -> None:
    from compliance.tasks import heartbeat_task

    heartbeat_task.apply()
    assert JobRun.objects.filter(job="heartbeat").count() == 1
    assert not JobRun.objects.filter(job="compliance.heartbeat").exists()


def test_every_scheduled_task_shows_a_record_on_the_operations_page() -> None:
    """Each beat entry is either recorded here or by its own job."""
    self_recording = {
        "compliance.heartbeat",
        "compliance.run_checks",
        "compliance.retention_run",
        "compliance.backup_run",
        "compliance.restore_test",
        "audit.detection_run",
        "accounts.access_review_start",
        "compliance.governance_reminders",
        "compliance.monthly_pack",
    }
    scheduled = {job.task for job in scheduled_jobs({}, timezone.now())}
    assert scheduled <= RECORDED_TASKS | self_recording, (
        scheduled - RECORDED_TASKS - self_recording
    )
