"""A Celery worker that stops in the middle of a job, for the kill tests.

Started as ``celery -A tests.cloudexpress.paused_worker worker``: the same
app and tasks as the product's worker, with one hook that blocks the job at
a chosen step until the test kills the process. Blocking on an event that
is never set (instead of sleeping) keeps the worker exactly at that step:

* ``CX_PAUSE_RETENTION_BATCH=N``: inside retention batch N's transaction,
  so batches 1..N-1 are committed and batch N never is;
* ``CX_PAUSE_CHECK=N``: before the N-th check of a compliance run is
  evaluated, after recording a ``JobRun`` marker named ``test.paused``;
* ``CX_PAUSE_ONCE_FILE=path``: pause only if the file does not exist yet,
  and write the pausing process's id into it (a prefork worker's child,
  which the test kills while the worker's main process lives on).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from cloudexpress.celery import app

__all__ = ["app"]

_never = threading.Event()


def _pause() -> None:
    once = os.environ.get("CX_PAUSE_ONCE_FILE", "")
    if once:
        try:
            with open(once, "x") as marker:
                marker.write(str(os.getpid()))
        except FileExistsError:
            return
    _never.wait()


def _install() -> None:
    import django

    django.setup()
    retention_batch = int(os.environ.get("CX_PAUSE_RETENTION_BATCH", "0"))
    check_number = int(os.environ.get("CX_PAUSE_CHECK", "0"))

    if retention_batch:
        from compliance.privacy import retention

        def pause_in_batch(data_type: str, number: int) -> None:
            if number == retention_batch:
                _pause()

        retention.batch_hook = pause_in_batch

    if check_number:
        from compliance.checks import registry
        from compliance.models import JobRun

        evaluate = registry.evaluate
        calls = {"n": 0}

        def paused_evaluate(spec: Any, context: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == check_number:
                JobRun.objects.create(
                    job="test.paused", slot=f"check-{check_number}", status="running"
                )
                _pause()
            return evaluate(spec, context)

        registry.evaluate = paused_evaluate


_install()
