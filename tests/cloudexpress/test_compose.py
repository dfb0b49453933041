"""The production compose file is valid and keeps the data tier internal."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from tests.support.processes import ROOT

REQUIRED = {
    "SECRET_KEY": "s" * 50,
    "FIELD_ENCRYPTION_KEYS": "k1:key",
    "ARCHIVE_ENCRYPTION_KEY": "a1:key",
    "BACKUP_ENCRYPTION_KEY": "b1:key",
    "DATABASE_URL": "postgres://portal@postgres/portal",
    "REDIS_URL": "rediss://:password@redis:6379/0",
    "ALLOWED_HOSTS": "portal.example.test",
    "METRICS_TOKEN": "token",
    "EMAIL_HOST": "smtp.example.test",
    "PORTAL_BASE_URL": "https://portal.example.test",
    "POSTGRES_PASSWORD": "password",
    "REDIS_PASSWORD": "password",
}


def _config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (Debian package docker-compose)")
    return subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), "config"],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_compose_file_is_valid_with_every_secret_set() -> None:
    result = _config(REQUIRED)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert set(services) == {"proxy", "web", "worker", "beat", "postgres", "redis", "prometheus"}

    # The database and cache are reachable only on the internal network,
    # which the proxy is not attached to.
    assert config["networks"]["internal"]["internal"] is True
    assert set(services["proxy"]["networks"]) == {"edge"}
    for name in ("postgres", "redis", "worker", "beat"):
        assert set(services[name]["networks"]) == {"internal"}, name

    # Every service has CPU and memory limits.
    for name, service in services.items():
        limits = service["deploy"]["resources"]["limits"]
        assert limits["cpus"] and limits["memory"], name

    assert services["web"]["environment"]["DJANGO_ENV"] == "production"
    assert services["beat"]["deploy"]["replicas"] == 1


def test_compose_refuses_to_render_without_a_secret() -> None:
    env = {key: value for key, value in REQUIRED.items() if key != "SECRET_KEY"}
    result = _config(env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
