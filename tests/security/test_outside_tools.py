"""scripts/security.sh, run as CI runs it: the planted flaw is found (so the
tools can fail) and the quick run over the product passes with every report
written. Each starts its own servers, app and proxy on loopback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import ROOT

pytestmark = pytest.mark.slow

QUICK_REPORTS = [
    "bandit.json",
    "check-deploy.txt",
    "drheader_.json",
    "drheader_accounts_login_.json",
    "drheader_api_me.json",
    "sslyze.json",
    "sqlmap-audit-log.log",
    "schemathesis.xml",
]


def _out(mode: str) -> Path:
    """The reports go where CI keeps its artifacts (.ci/run checks them)."""
    out = ROOT / "artifacts" / f"security-{mode.lstrip('-')}"
    out.mkdir(parents=True, exist_ok=True)
    return out


def _run(mode: str, out: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SECURITY_OUT": str(out)}
    return subprocess.run(
        ["scripts/security.sh", mode],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_planted_injection_is_found_and_fails_the_run() -> None:
    tmp_path = _out("--planted")
    result = _run("--planted", tmp_path)

    assert result.returncode == 1, result.stderr[-3000:]
    summary = (tmp_path / "summary.txt").read_text()
    assert "FAIL sqlmap-planted: the planted query is injectable" in summary
    log = (tmp_path / "sqlmap-planted.log").read_text()
    assert "Parameter: email (GET)" in log
    assert "boolean-based blind" in log


def test_the_quick_run_over_the_product_passes() -> None:
    tmp_path = _out("--quick")
    result = _run("--quick", tmp_path)

    summary = (tmp_path / "summary.txt").read_text()
    assert result.returncode == 0, summary + result.stderr[-3000:]
    for name in ("bandit", "check-deploy", "drheader", "sslyze", "sqlmap", "schemathesis"):
        assert f"PASS {name}:" in summary
    for report in QUICK_REPORTS:
        assert (tmp_path / report).stat().st_size > 0, report
    # The planted view is not mounted outside its own mode.
    assert "planted" not in (tmp_path / "schemathesis.xml").read_text()
