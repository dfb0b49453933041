"""The project's own deploy checks (`manage.py check --deploy`)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import time_machine
from django.core import checks

from tests.security.test_certificates import NOW, _certificate


def _deploy_errors() -> list[checks.CheckMessage]:
    return [
        message
        for message in checks.run_checks(include_deployment_checks=True)
        if message.id == "cloudexpress.E002"
    ]


def test_deploy_check_fails_on_a_certificate_inside_30_days(tmp_path: Path, settings) -> None:
    _certificate(tmp_path / "proxy.crt", 29)
    settings.TLS_CERTIFICATES = [str(tmp_path / "proxy.crt")]
    with time_machine.travel(NOW, tick=False):
        errors = _deploy_errors()
    assert len(errors) == 1
    assert str(tmp_path / "proxy.crt") in errors[0].msg
    assert (NOW + timedelta(days=29)).strftime("%Y-%m-%d") in errors[0].msg


def test_deploy_check_passes_a_certificate_with_more_than_30_days(
    tmp_path: Path, settings
) -> None:
    _certificate(tmp_path / "proxy.crt", 31)
    settings.TLS_CERTIFICATES = [str(tmp_path / "proxy.crt")]
    with time_machine.travel(NOW, tick=False):
        assert _deploy_errors() == []
    # The same certificate two days later is inside the window.
    with time_machine.travel(NOW + timedelta(days=2), tick=False):
        assert len(_deploy_errors()) == 1


def test_deploy_check_fails_on_an_unreadable_certificate(tmp_path: Path, settings) -> None:
    settings.TLS_CERTIFICATES = [str(tmp_path / "missing.crt")]
    errors = _deploy_errors()
    assert len(errors) == 1 and "cannot be read" in errors[0].msg
