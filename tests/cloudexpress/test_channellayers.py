"""The embedded default's channel layer: group messages reach the sockets of
another process through the relay directory, so an alert that detection
raises in the Celery worker arrives on a dashboard open on the web server."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudexpress.channellayers import InMemoryRelayChannelLayer
from tests.support.processes import BIN, ROOT, stop_process_group
from tests.support.websocket import WebSocketClient


def _layer(directory: Path) -> InMemoryRelayChannelLayer:
    return InMemoryRelayChannelLayer(directory=str(directory), poll_seconds=0.05)


def test_a_group_message_reaches_the_members_of_another_layer_once(tmp_path: Path) -> None:
    # Two layers on one directory stand for the web server and the worker.
    web, worker = _layer(tmp_path), _layer(tmp_path)

    async def scenario() -> list[dict[str, str]]:
        channel = await web.new_channel()
        await web.group_add("dashboard", channel)
        await worker.group_send("dashboard", {"type": "dashboard.update", "n": "1"})
        await web.group_send("dashboard", {"type": "dashboard.update", "n": "2"})
        received = [await asyncio.wait_for(web.receive(channel), 5) for _ in range(2)]
        # The web server's own message came at once and is not read back
        # from the directory a second time.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(web.receive(channel), 0.3)
        await web.group_discard("dashboard", channel)
        return received

    received = asyncio.run(scenario())
    assert sorted(message["n"] for message in received) == ["1", "2"]


def test_relayed_messages_are_dropped_once_every_reader_has_had_them(tmp_path: Path) -> None:
    layer = InMemoryRelayChannelLayer(directory=str(tmp_path))
    asyncio.run(layer.group_send("dashboard", {"type": "dashboard.update"}))
    # Panels can name people: the files are the portal's user's alone.
    assert [path.stat().st_mode & 0o777 for path in tmp_path.iterdir()] == [0o600]

    # Each write drops what is older than keep_seconds, even while no
    # dashboard is open and so no process reads the directory.
    layer.keep_seconds = 0
    asyncio.run(layer.group_send("dashboard", {"type": "dashboard.update"}))
    assert list(tmp_path.iterdir()) == []


# --- the embedded default with real processes --------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _embedded_env(data_dir: Path) -> dict[str, str]:
    """The environment of `make run`: none of the test suite's services."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_ENV", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        CLOUDEXPRESS_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="cloudexpress.settings",
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="WARNING",
    )
    return env


def _run(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _start(
    command: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT
) -> subprocess.Popen[bytes]:
    with open(log, "w") as out:
        # The child keeps its own copy of the log's descriptor.
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.fixture
def embedded_runtime(tmp_path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """The web server and the Celery worker of `make run`, as it starts
    them, on a migrated SQLite database of their own; yield the web
    server's port and the environment."""
    env = _embedded_env(tmp_path / "data")
    _run(env, "manage.py", "migrate", "--noinput", "-v", "0", timeout=240)
    port = _free_port()
    web_log = tmp_path / "uvicorn.log"
    # kombu's filesystem transport keeps its control files under the
    # worker's working directory: a scratch one, not the repository.
    worker = _start(
        [str(BIN / "celery"), "-A", "cloudexpress", "worker", "--pool=solo", "-n", "relay@%h"],
        {**env, "PYTHONPATH": str(ROOT)},
        tmp_path / "worker.log",
        cwd=tmp_path,
    )
    web = _start(
        [
            str(BIN / "uvicorn"),
            "cloudexpress.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-proxy-headers",
        ],
        env,
        web_log,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                assert web.poll() is None, web_log.read_text()[-3000:]
                assert time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.2)  # polling a starting process
        yield port, env
    finally:
        stop_process_group(web)
        stop_process_group(worker)


@pytest.mark.slow
def test_an_alert_raised_in_the_worker_reaches_the_open_dashboard(
    embedded_runtime: tuple[int, dict[str, str]],
) -> None:
    port, env = embedded_runtime
    session_key = _run(env, "-m", "tests.support.embedded_actors", "viewer").split()[-1]
    cookie = (b"cookie", f"sessionid={session_key}".encode())

    # Another port of the same host is another origin: refused in the handshake.
    elsewhere = (b"origin", b"http://127.0.0.1:1")
    stranger = WebSocketClient(port, "/ws/dashboard/", [elsewhere, cookie])
    try:
        assert stranger.open() == 403
    finally:
        stranger.close()

    socket = WebSocketClient(
        port, "/ws/dashboard/", [(b"origin", f"http://127.0.0.1:{port}".encode()), cookie]
    )
    try:
        assert socket.open() == 101
        # Failed sign-ins, then the detection job for the worker: its
        # alerts' commit broadcasts the alerts panel from the worker.
        _run(env, "-m", "tests.support.embedded_actors", "detect")
        message = json.loads(socket.receive_text(timeout=90))
    finally:
        socket.close()

    titles = _run(env, "-m", "tests.support.embedded_actors", "alerts").splitlines()
    assert len(titles) == 2
    assert message["reason"] == "alert_raised"
    assert set(message["panels"]) == {"alerts"}
    assert all(title in message["panels"]["alerts"] for title in titles)
