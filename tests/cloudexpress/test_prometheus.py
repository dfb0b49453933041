"""Alerting rules validated by promtool; capacity metrics exported."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from compliance.models import JobRun
from tests.support.processes import ROOT

PROMETHEUS = ROOT / "deploy" / "prometheus"


def _promtool() -> str:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    return binary


def test_alerting_rules_are_valid() -> None:
    result = subprocess.run(
        [_promtool(), "check", "rules", str(PROMETHEUS / "alerts.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 rules found" in result.stdout


def test_alerting_rules_fire_when_jobs_stop() -> None:
    result = subprocess.run(
        [_promtool(), "test", "rules", "alerts_test.yml"],
        cwd=PROMETHEUS,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
@override_settings(METRICS_TOKEN="t0ken-for-tests")
def test_metrics_export_job_outcomes_and_capacity(client: Client) -> None:
    now = timezone.now()
    JobRun.objects.create(job="heartbeat", status=JobRun.Status.DONE, finished_at=now)
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken-for-tests")
    text = response.content.decode()
    line = re.search(
        r'^cloudexpress_job_last_success_timestamp_seconds\{job="heartbeat"\} (\S+)$', text, re.M
    )
    assert line and abs(float(line.group(1)) - now.timestamp()) < 1
    assert "cloudexpress_queue_depth " in text
    assert "cloudexpress_database_size_bytes " in text
