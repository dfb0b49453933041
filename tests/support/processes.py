"""Start real processes (Celery workers, the embedded portal) for tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def database_url_for_processes() -> str:
    """The URL of the database this test runs on (pytest-django's test DB)."""
    conf = connection.settings_dict
    return (
        f"postgres://{conf['USER']}@{conf['HOST']}:{conf['PORT']}/{conf['NAME']}"
        if connection.vendor == "postgresql"
        else ""
    )


def process_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "cloudexpress.settings"
    env["PYTHONUNBUFFERED"] = "1"
    database_url = database_url_for_processes()
    if database_url:
        env["DATABASE_URL"] = database_url
    env.update(extra)
    return env


@contextmanager
def celery_worker(queue: str | None = None, **env: str) -> Iterator[str]:
    """Run a real Celery worker on its own queue; yield the queue name."""
    queue = queue or f"test-{uuid.uuid4().hex[:8]}"
    log = open(ROOT / "artifacts" / f"worker-{queue}.log", "w")
    proc = subprocess.Popen(
        [
            str(BIN / "celery"),
            "-A",
            "cloudexpress",
            "worker",
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            queue,
            "-n",
            f"{queue}@%h",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=process_env(**env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield queue
    finally:
        stop_process_group(proc)
        log.close()


def stop_process_group(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
