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
    assert "11 rules found" in result.stdout


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
        r'^cloudexpress_job_last_success_timestamp_seconds\{background_job="heartbeat"\} (\S+)$',
        text,
        re.M,
    )
    assert line and abs(float(line.group(1)) - now.timestamp()) < 1
    assert "cloudexpress_queue_depth " in text
    assert "cloudexpress_database_size_bytes " in text


def _alert_rules() -> dict[str, str]:
    import yaml

    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"]}


def test_job_alerts_name_the_keys_the_jobs_record() -> None:
    from compliance.policy import RECURRING_JOBS

    keys = {job.key for job in RECURRING_JOBS} | {"heartbeat"}
    named = set()
    for expr in _alert_rules().values():
        named |= set(re.findall(r'background_job="([^"]+)"', expr))
    assert named and named <= keys, named - keys
    assert "job=" not in "".join(_alert_rules().values()).replace("background_job=", "")


def test_alert_thresholds_match_the_settings_the_operations_page_shows() -> None:
    from django.conf import settings

    rules = _alert_rules()
    limits = settings.CAPACITY_THRESHOLDS
    assert rules["CeleryQueueBacklog"].strip().endswith(f"> {limits['queue_depth_max']}")
    assert rules["PortalHighLatency"].strip().endswith(f"> {limits['request_p95_seconds_max']}")
    assert rules["PortalHighErrorRate"].strip().endswith(f"> {limits['error_rate_max']}")


@pytest.mark.django_db
@override_settings(METRICS_TOKEN="t0ken-for-tests")
def test_performance_dashboard_queries_only_metrics_the_portal_exports(client: Client) -> None:
    import json

    dashboard = json.loads((ROOT / "deploy" / "grafana" / "performance.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(exprs) >= 6
    # Make every series appear once: a request, a finished job.
    JobRun.objects.create(job="heartbeat", status=JobRun.Status.DONE, finished_at=timezone.now())
    client.get("/healthz")
    exported = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken-for-tests").content.decode()
    families = set(re.findall(r"^# TYPE (\S+) ", exported, re.M))
    for expr in exprs:
        for name in re.findall(r"\b((?:django|cloudexpress)_[a-z_]+)", expr):
            base = re.sub(r"_(bucket|total|count|sum)$", "", name)
            assert name in families or base in families, name
