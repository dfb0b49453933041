"""The Celery settings issue 11 asks for, read from the configured app: late
acknowledgement with requeue on a lost worker, time limits, bounded retries,
a visibility timeout longer than the longest task, and one beat."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import redis
from celery.beat import ScheduleEntry
from django.conf import settings

from cloudexpress.beat import LockedScheduler
from cloudexpress.celery import app
from tests.conftest import require_env


def _product_tasks() -> dict[str, Any]:
    app.loader.import_default_modules()
    # Celery's own tasks, and any a test registers for itself, are not the product's.
    return {
        name: task
        for name, task in app.tasks.items()
        if not name.startswith(("celery.", "tests."))
    }


def test_every_task_is_acknowledged_late_and_requeued_when_its_worker_dies() -> None:
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    early = [name for name, task in _product_tasks().items() if task.acks_late is False]
    assert early == []


def test_every_task_has_soft_and_hard_time_limits_and_bounded_retries() -> None:
    tasks = _product_tasks()
    assert len(tasks) > 10
    for name, task in tasks.items():
        hard = task.time_limit or app.conf.task_time_limit
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        assert hard and soft and soft < hard, name
        assert task.max_retries is not None and task.max_retries <= 5, name


def test_visibility_timeout_is_longer_than_the_longest_task() -> None:
    require_env("REDIS_URL")
    longest = max(
        task.time_limit or app.conf.task_time_limit for task in _product_tasks().values()
    )
    timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert app.conf.broker_transport_options["visibility_timeout"] == timeout
    # A running task is never handed to a second worker while it may still run.
    assert timeout > longest, (timeout, longest)


def test_beat_uses_the_locked_scheduler() -> None:
    assert app.conf.beat_scheduler == "cloudexpress.beat:LockedScheduler"


def _scheduler(tmp_path: Any, name: str, queue: str) -> LockedScheduler:
    scheduler = LockedScheduler(app=app, schedule_filename=str(tmp_path / f"beat-{name}"))
    # One probe entry, always due, sent to a queue no worker reads.
    scheduler.schedule.clear()
    scheduler.schedule["probe"] = ScheduleEntry(
        name="probe",
        task="compliance.echo",
        schedule=0.0,
        args=("beat",),
        options={"queue": queue},
        app=app,
    )
    return scheduler


@pytest.fixture
def locked_schedulers(tmp_path: Any) -> Any:
    redis_url = require_env("REDIS_URL")
    client = redis.Redis.from_url(redis_url)
    client.delete(LockedScheduler.lock_key)
    queue = f"beat-{uuid.uuid4().hex[:8]}"
    made: list[LockedScheduler] = []

    def make(name: str) -> LockedScheduler:
        scheduler = _scheduler(tmp_path, name, queue)
        made.append(scheduler)
        return scheduler

    yield make, client, queue
    for scheduler in made:
        scheduler.close()
    client.delete(LockedScheduler.lock_key, queue)


def test_a_second_beat_sends_nothing_while_the_first_holds_the_lock(locked_schedulers) -> None:
    make, client, queue = locked_schedulers
    first, second = make("first"), make("second")

    assert first.holds_lock() is True
    assert second.holds_lock() is False
    # The holder renews its own lock; the other still cannot take it.
    assert first.holds_lock() is True and second.holds_lock() is False
    assert 0 < client.pttl(LockedScheduler.lock_key) <= settings.BEAT_LOCK_SECONDS * 1000

    second.tick()
    assert client.llen(queue) == 0
    first.tick()
    assert client.llen(queue) == 1


def test_the_standby_beat_takes_over_when_the_first_stops(locked_schedulers) -> None:
    make, client, queue = locked_schedulers
    first, second = make("first"), make("second")
    assert first.holds_lock() and not second.holds_lock()

    first.close()
    assert client.get(LockedScheduler.lock_key) is None
    assert second.holds_lock() is True
    second.tick()
    assert client.llen(queue) == 1
