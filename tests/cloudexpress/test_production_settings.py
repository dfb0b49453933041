"""Production refuses to start without its secrets, with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRONG_SECRET = "p" + "".join(chr(97 + (i * 7) % 26) for i in range(63))

PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": STRONG_SECRET,
    "DATABASE_URL": "postgres://portal@127.0.0.1:1/portal",
    "REDIS_URL": "rediss://:redis-password@127.0.0.1:1/0?ssl_cert_reqs=required",
    "ALLOWED_HOSTS": "portal.example.test",
    "EMAIL_HOST": "127.0.0.1",
    "PORTAL_BASE_URL": "https://portal.example.test",
    "FIELD_ENCRYPTION_KEYS": "k1:" + "A" * 43 + "=",
    "ARCHIVE_ENCRYPTION_KEY": "ab" * 32,
    "BACKUP_ENCRYPTION_KEY": "b1:" + "B" * 43 + "=",
}


# Browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for Playwright's event loop;
# a production process never has it.
_NOT_INHERITED = set(PRODUCTION_ENV) | {"DJANGO_ALLOW_ASYNC_UNSAFE"}


def _start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "cloudexpress.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_starts_with_every_secret() -> None:
    result = _start(PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started"


@pytest.mark.parametrize(
    ("override", "variable"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"DATABASE_URL": ""}, "DATABASE_URL"),
        ({"REDIS_URL": ""}, "REDIS_URL"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"ARCHIVE_ENCRYPTION_KEY": ""}, "ARCHIVE_ENCRYPTION_KEY"),
        ({"BACKUP_ENCRYPTION_KEY": ""}, "BACKUP_ENCRYPTION_KEY"),
        ({"ARCHIVE_ENCRYPTION_KEY": "ab" * 31}, "ARCHIVE_ENCRYPTION_KEY"),
        ({"BACKUP_ENCRYPTION_KEY": "b1:short"}, "BACKUP_ENCRYPTION_KEY"),
    ],
)
def test_production_refuses_a_missing_or_weak_variable(
    override: dict[str, str], variable: str
) -> None:
    result = _start({**PRODUCTION_ENV, **override})
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("configuration error:") and variable in lines[0]


def test_production_refuses_the_embedded_development_secret() -> None:
    from cloudexpress.settings import DEVELOPMENT_SECRET_KEY

    result = _start({**PRODUCTION_ENV, "SECRET_KEY": DEVELOPMENT_SECRET_KEY})
    assert result.returncode == 2
    assert "SECRET_KEY" in result.stderr and "development secret" in result.stderr


def test_production_refuses_sqlite() -> None:
    result = _start({**PRODUCTION_ENV, "DATABASE_URL": "sqlite:///portal.db"})
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr


def test_production_settings_are_hardened() -> None:
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS >= 31536000,"
        " s.DEBUG, s.DATABASES['default']['OPTIONS']['sslmode'])"
    )
    clean = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "cloudexpress.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == ["True", "True", "True", "False", "verify-full"]


def test_check_deploy_reports_nothing_in_production() -> None:
    clean = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**clean, **PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "cloudexpress.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"DATABASE_SSLMODE": "require"}, "sslmode is require, not verify-full"),
        ({"REDIS_URL": "redis://:redis-password@127.0.0.1:1/0"}, "does not use TLS"),
        ({"REDIS_URL": "rediss://127.0.0.1:1/0"}, "carries no password"),
        ({"CELERY_VISIBILITY_TIMEOUT": "7200"}, "longer than the longest task"),
    ],
)
def test_production_refuses_internal_links_without_verified_tls(
    override: dict[str, str], message: str
) -> None:
    assert _start(PRODUCTION_ENV).returncode == 0
    result = _start({**PRODUCTION_ENV, **override})
    assert result.returncode == 2
    assert message in result.stderr


def test_the_loopback_opt_out_starts_and_the_deploy_check_warns() -> None:
    loopback = {
        **PRODUCTION_ENV,
        "DATABASE_SSLMODE": "disable",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "INTERNAL_TLS_OPTIONAL": "1",
    }
    assert _start(loopback).returncode == 0
    clean = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**clean, **loopback, "DJANGO_SETTINGS_MODULE": "cloudexpress.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "cloudexpress.W001" in output and "sslmode is disable" in output
    assert "REDIS_URL does not use TLS" in output
