"""`manage.py capacity_check` compares the live figures with the thresholds."""

from __future__ import annotations

import pytest
import redis
from django.core.management import CommandError, call_command

from tests.conftest import require_env

pytestmark = pytest.mark.django_db


def _queue(depth: int) -> redis.Redis:
    client = redis.Redis.from_url(require_env("REDIS_URL"))
    client.delete("celery")
    if depth:
        client.rpush("celery", *[b"{}"] * depth)
    return client


def test_figures_within_their_thresholds_pass(capsys, settings) -> None:
    client = _queue(3)
    try:
        call_command("capacity_check")
    finally:
        client.delete("celery")
    out = capsys.readouterr().out
    assert "Queue depth: 3 messages (threshold 500): within" in out
    assert "Database size:" in out


def test_a_queue_over_its_threshold_fails(capsys, settings) -> None:
    settings.CAPACITY_THRESHOLDS = {**settings.CAPACITY_THRESHOLDS, "queue_depth_max": 2}
    client = _queue(3)
    try:
        with pytest.raises(CommandError, match="over threshold: Queue depth"):
            call_command("capacity_check")
    finally:
        client.delete("celery")
    assert "Queue depth: 3 messages (threshold 2): OVER" in capsys.readouterr().out
