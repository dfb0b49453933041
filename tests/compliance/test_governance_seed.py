"""The governance demo data: every register filled, idempotently, with gaps."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from compliance.governance import checks
from tests.compliance.test_governance_admin import GOVERNANCE_MODELS

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in GOVERNANCE_MODELS}


def test_seed_fills_every_register_once_and_shows_gaps(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", stdout=io.StringIO())  # calls seed_governance
    first = _counts()
    call_command("seed_governance", stdout=io.StringIO())

    assert _counts() == first
    # Every register holds rows; the reminder log fills only when beat runs.
    assert [name for name, count in first.items() if count == 0] == ["Reminder"]
    statuses = {fn.__name__: fn().status for fn in checks.ALL_CHECKS}
    assert list(statuses.values()).count("fail") >= 5
    assert "pass" in statuses.values()


def test_seed_needs_the_demo_users_first() -> None:
    with pytest.raises(CommandError, match="seed_demo"):
        call_command("seed_governance", stdout=io.StringIO())
