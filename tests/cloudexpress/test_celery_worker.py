"""A real Celery worker on Redis executes tasks and records its heartbeat."""

from __future__ import annotations

import pytest

from compliance.models import JobRun
from compliance.tasks import echo_task, heartbeat_task
from tests.conftest import require_env
from tests.support.processes import celery_worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_worker_returns_a_task_result_through_redis() -> None:
    require_env("REDIS_URL")
    with celery_worker() as queue:
        result = echo_task.apply_async(args=["round trip"], queue=queue)
        assert result.get(timeout=60) == "round trip"


def test_worker_records_a_heartbeat_in_the_database() -> None:
    require_env("REDIS_URL")
    assert JobRun.objects.filter(job="heartbeat").count() == 0
    with celery_worker() as queue:
        run_id = heartbeat_task.apply_async(queue=queue).get(timeout=60)
    run = JobRun.objects.get(pk=run_id)
    assert run.job == "heartbeat" and run.status == JobRun.Status.DONE
    assert JobRun.objects.filter(job="heartbeat").count() == 1
