"""`make run` on the embedded default: it serves the demo, a demo sign-in
works, the worker and beat prove they are alive, and Ctrl-C leaves nothing."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.support.processes import ROOT

pytestmark = pytest.mark.slow

# A customer member: MFA is optional for them, so a password sign-in
# completes without a second factor.
DEMO_EMAIL = "clerk@globex-retail.test"
DEMO_PASSWORD = "Demo-Portal-2026!"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _session_processes(sid: int) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid=,sid=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.split()[1] == str(sid)]


def _serving(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _heartbeats(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db, timeout=5) as conn:
        try:
            row = conn.execute(
                "SELECT COUNT(*) FROM compliance_jobrun WHERE job = 'heartbeat'"
            ).fetchone()
        except sqlite3.OperationalError:
            return 0
    return int(row[0])


def test_make_run_serves_signs_in_beats_and_stops_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_ENV", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        CLOUDEXPRESS_DATA_DIR=str(tmp_path / "data"),
        PORTAL_PORT=str(port),
        HEARTBEAT_SECONDS="3",
    )
    log = open(tmp_path / "run.log", "w")
    proc = subprocess.Popen(
        ["make", "-s", "run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _serving(base + "/"), 240, "the portal to serve")
        output = (tmp_path / "run.log").read_text()
        assert base in output
        assert DEMO_EMAIL in output and DEMO_PASSWORD in output

        # A visitor is asked to sign in; the platform's figures stay private.
        home = requests.get(base + "/", timeout=5).text
        assert "Sign in" in home and "figure-organizations" not in home

        # A demo sign-in works.
        session = requests.Session()
        login_page = session.get(base + "/accounts/login/", timeout=5)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text)
        assert token, "the sign-in page carries a CSRF token"
        form = {"csrfmiddlewaretoken": token.group(1)}
        for name in re.findall(r'<input[^>]+name="([^"]+)"', login_page.text):
            if name in {"login", "username", "email"}:
                form[name] = DEMO_EMAIL
            elif name == "password":
                form[name] = DEMO_PASSWORD
        signed_in = session.post(
            login_page.url, data=form, headers={"Referer": login_page.url}, timeout=10
        )
        assert signed_in.status_code == 200
        signed_in_home = session.get(base + "/", timeout=5).text
        assert DEMO_EMAIL in signed_in_home
        # The demo data is there: the member sees their organization.
        assert "Globex Retail" in signed_in_home

        # Beat schedules the heartbeat, the worker runs it, it lands in SQLite.
        db = tmp_path / "data" / "cloudexpress.sqlite3"
        _wait_for(lambda: _heartbeats(db) >= 1, 90, "a heartbeat from worker and beat")
        # The queue's exchange tables live with the queue, not in the checkout.
        assert list((tmp_path / "data" / "queue" / "control").glob("*.exchange"))
        assert not (ROOT / "control").exists()
    finally:
        # Ctrl-C in a terminal sends SIGINT to the whole foreground group.
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        finally:
            log.close()
    time.sleep(1)
    assert _session_processes(proc.pid) == [], "processes outlived Ctrl-C"
