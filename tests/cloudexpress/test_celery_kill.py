"""Kill a real Celery worker in the middle of a job, start another, and
prove that the job finishes with nothing lost and nothing done twice.

The first worker (tests/cloudexpress/paused_worker.py) blocks at a chosen
step of the job; the test waits for a database-visible marker of that step,
SIGKILLs the whole worker (no warm shutdown, no ack, no requeue by the
worker itself), and starts a plain product worker on the same queue. Redis
gives the unacknowledged message back once its visibility timeout has
passed (shortened to one second for these workers), the redelivered task
finds the job's slot and resumes it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.utils import timezone

from compliance.models import (
    ApiUsage,
    DataType,
    JobRun,
    Result,
    RetentionBatch,
    RetentionRun,
    Run,
)
from compliance.privacy.tasks import retention_run_task
from compliance.tasks import run_checks_task
from tests import factories
from tests.conftest import require_env
from tests.support.processes import BIN, ROOT, process_env, stop_process_group

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Workers in this module see their dead peer's message again after one
# second, and look for such messages every second.
FAST_REDELIVERY = {
    "CELERY_VISIBILITY_TIMEOUT": "1",
    "CELERY_UNACKED_RESTORE_SECONDS": "1",
}


@contextmanager
def worker(
    app: str, queue: str, *, pool: str = "solo", fast_redelivery: bool = True, **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    name = f"{queue}-{uuid.uuid4().hex[:4]}"
    log = open(ROOT / "artifacts" / f"worker-{name}-{app.rsplit('.', 1)[-1]}.log", "w")
    proc = subprocess.Popen(
        [
            str(BIN / "celery"),
            "-A",
            app,
            "worker",
            f"--pool={pool}",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            queue,
            "-n",
            f"{name}@%h",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=process_env(**(FAST_REDELIVERY if fast_redelivery else {}), **env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        stop_process_group(proc)
        log.close()


def wait_for(
    condition: Callable[[], bool], *, proc: subprocess.Popen[bytes], seconds: float
) -> None:
    """Poll the database until ``condition`` holds; fail if the worker died
    or the deadline passed (a bound, not a wait for time to pass)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert proc.poll() is None, f"the worker exited with {proc.returncode}"
        assert time.monotonic() < deadline, "the worker did not reach the expected step"
        time.sleep(0.1)


def kill(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


# --- Retention ------------------------------------------------------------

EXPIRED_ROWS = 40
PAUSE_AT_BATCH = 10


def test_killed_retention_run_resumes_on_a_new_worker_and_deletes_each_row_once() -> None:
    require_env("REDIS_URL")
    expired_ids, young_ids = _seed_usage()
    queue = f"kill-{uuid.uuid4().hex[:8]}"
    one_row_batches = {"RETENTION_BATCH_SIZE": "1", "RETENTION_ARCHIVE_BATCH_SIZE": "1"}

    with worker(
        "tests.cloudexpress.paused_worker",
        queue,
        CX_PAUSE_RETENTION_BATCH=str(PAUSE_AT_BATCH),
        **one_row_batches,
    ) as first:
        retention_run_task.apply_async(queue=queue)
        usage_batches = RetentionBatch.objects.filter(data_type=DataType.USAGE_DATA)
        wait_for(lambda: usage_batches.count() == PAUSE_AT_BATCH - 1, proc=first, seconds=120)
        kill(first)

    # Killed between two batches: nine committed, the tenth rolled back.
    assert usage_batches.count() == PAUSE_AT_BATCH - 1
    assert ApiUsage.objects.filter(pk__in=expired_ids).count() == EXPIRED_ROWS - 9
    job = JobRun.objects.get(job="retention")
    assert job.status == JobRun.Status.RUNNING and job.finished_at is None

    with worker("cloudexpress", queue, **one_row_batches) as second:
        wait_for(
            lambda: JobRun.objects.filter(job="retention", status=JobRun.Status.DONE).exists(),
            proc=second,
            seconds=180,
        )

    assert_retention_finished_once(expired_ids, young_ids)


def assert_retention_finished_once(expired_ids: set[int], young_ids: set[int]) -> None:
    # Every expired row deleted, each by exactly one committed batch.
    assert not ApiUsage.objects.filter(pk__in=expired_ids).exists()
    assert set(ApiUsage.objects.values_list("pk", flat=True)) == young_ids
    usage_batches = RetentionBatch.objects.filter(data_type=DataType.USAGE_DATA)
    batches = list(usage_batches.order_by("number"))
    assert [b.number for b in batches] == list(range(1, EXPIRED_ROWS + 1))
    assert sum(b.row_count for b in batches) == EXPIRED_ROWS
    covered = [pk for b in batches for first, last in b.id_ranges for pk in range(first, last + 1)]
    assert sorted(covered) == sorted(expired_ids)

    # One job record, one retention run, done, with the exact count.
    job = JobRun.objects.get(job="retention")
    assert job.status == JobRun.Status.DONE and job.finished_at is not None
    run = RetentionRun.objects.get()
    assert run.job_run_id == job.pk and run.status == RetentionRun.Status.DONE
    assert run.counts[DataType.USAGE_DATA] == EXPIRED_ROWS
    assert job.counts[DataType.USAGE_DATA] == EXPIRED_ROWS
    assert run.verification[DataType.USAGE_DATA]["ok"] is True

    # One audit entry per committed batch; the rolled-back one left none.
    from audit.models import AuditLogEntry

    trail = AuditLogEntry.objects.filter(object_pk__startswith=f"retention:{run.public_id}:")
    assert trail.filter(object_pk__contains=f":{DataType.USAGE_DATA}:").count() == EXPIRED_ROWS


def _seed_usage() -> tuple[set[int], set[int]]:
    organization = factories.OrganizationFactory()
    old_day = timezone.localdate() - timedelta(days=600)
    expired = ApiUsage.objects.bulk_create(
        ApiUsage(organization=organization, endpoint=f"GET /e{i}", day=old_day, count=i)
        for i in range(EXPIRED_ROWS)
    )
    young = ApiUsage.objects.bulk_create(
        ApiUsage(organization=organization, endpoint=f"GET /y{i}", day=timezone.localdate())
        for i in range(5)
    )
    return {row.pk for row in expired}, {row.pk for row in young}


def test_killed_pool_child_is_requeued_by_its_worker_and_the_run_resumes(tmp_path) -> None:
    """task_reject_on_worker_lost: the worker's main process sees its child
    die and puts the message back at once, long before any visibility
    timeout (left at its production length here)."""
    require_env("REDIS_URL")
    expired_ids, young_ids = _seed_usage()
    queue = f"kill-{uuid.uuid4().hex[:8]}"
    marker = tmp_path / "paused-child"

    with worker(
        "tests.cloudexpress.paused_worker",
        queue,
        pool="prefork",
        fast_redelivery=False,
        CX_PAUSE_RETENTION_BATCH=str(PAUSE_AT_BATCH),
        CX_PAUSE_ONCE_FILE=str(marker),
        RETENTION_BATCH_SIZE="1",
        RETENTION_ARCHIVE_BATCH_SIZE="1",
    ) as main:
        retention_run_task.apply_async(queue=queue)
        usage_batches = RetentionBatch.objects.filter(data_type=DataType.USAGE_DATA)
        wait_for(
            lambda: marker.exists() and usage_batches.count() == PAUSE_AT_BATCH - 1,
            proc=main,
            seconds=120,
        )
        child = int(marker.read_text())
        assert child != main.pid
        os.kill(child, signal.SIGKILL)

        wait_for(
            lambda: JobRun.objects.filter(job="retention", status=JobRun.Status.DONE).exists(),
            proc=main,
            seconds=180,
        )
        assert main.poll() is None

    assert_retention_finished_once(expired_ids, young_ids)


# --- Compliance run -------------------------------------------------------

PAUSE_AT_CHECK = 5


def test_killed_compliance_run_is_finished_by_a_new_worker_with_one_result_per_check() -> None:
    require_env("REDIS_URL")
    from compliance.checks import registry

    check_ids = set(registry.registered())
    assert len(check_ids) > PAUSE_AT_CHECK
    queue = f"kill-{uuid.uuid4().hex[:8]}"
    slot = timezone.localdate().isoformat()

    with worker(
        "tests.cloudexpress.paused_worker", queue, CX_PAUSE_CHECK=str(PAUSE_AT_CHECK)
    ) as first:
        run_checks_task.apply_async(queue=queue)
        wait_for(
            lambda: JobRun.objects.filter(job="test.paused").exists(), proc=first, seconds=120
        )
        kill(first)

    # Mid-run: the slot and the run are marked running, no result is stored.
    day = JobRun.objects.get(job="compliance.run_checks")
    assert day.slot == slot and day.status == JobRun.Status.RUNNING
    killed = Run.objects.get()
    assert killed.status == Run.Status.RUNNING and not Result.objects.exists()

    with worker("cloudexpress", queue) as second:
        wait_for(
            lambda: JobRun.objects.filter(
                job="compliance.run_checks", status=JobRun.Status.DONE
            ).exists(),
            proc=second,
            seconds=300,
        )

    # One job record for the day, done, naming the one finished run.
    day = JobRun.objects.get(job="compliance.run_checks")
    assert day.slot == slot and day.status == JobRun.Status.DONE
    done = Run.objects.get(status=Run.Status.DONE)
    assert day.counts["run_id"] == done.pk and day.counts["checks"] == len(check_ids)

    # Exactly one result per check, all in the finished run.
    assert Result.objects.count() == len(check_ids)
    assert set(Result.objects.filter(run=done).values_list("check_id", flat=True)) == check_ids

    # The killed run is closed as abandoned, with nothing half-written.
    killed.refresh_from_db()
    assert killed.status == Run.Status.FAILED and "abandoned" in killed.error
    assert Run.objects.count() == 2


def test_two_workers_given_the_same_daily_slot_run_it_once() -> None:
    require_env("REDIS_URL")
    queue = f"slot-{uuid.uuid4().hex[:8]}"
    # The production visibility timeout: with the one-second one of the kill
    # tests, the idle worker takes back the busy one's message after a
    # second and runs it again (harmlessly, but the result is overwritten).
    idle_safe = {"fast_redelivery": False}
    with worker("cloudexpress", queue, **idle_safe), worker("cloudexpress", queue, **idle_safe):
        results = [run_checks_task.apply_async(queue=queue) for _ in range(2)]
        outcomes = [result.get(timeout=300) for result in results]

    # One task ran the day's checks; the other found the slot locked or done.
    assert sorted(outcomes, key=lambda o: o is None) == [Run.objects.get().pk, None]
    day = JobRun.objects.get(job="compliance.run_checks")
    assert day.status == JobRun.Status.DONE and day.counts["run_id"] == Run.objects.get().pk
