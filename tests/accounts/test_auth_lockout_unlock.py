"""The end of an axes lockout is a security event, recorded once per lockout:
when the cool-off ends (seen by the next attempt or by the beat job, axes
itself ends it lazily) and when an administrator lifts it."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.auth.lockout import lockout_clear, lockouts_expired_close
from accounts.models import LockoutEpisode
from accounts.tasks import lockouts_unlock_task
from audit.models import SecurityEvent
from tests.accounts.auth_support import sign_in_password, verified_user

pytestmark = pytest.mark.django_db

WRONG = "Wrong-Password-1!"
ADDRESS = "127.0.0.1"


def _lock(email: str) -> None:
    for _ in range(5):
        sign_in_password(Client(), email, WRONG)
    assert sign_in_password(Client(), email).status_code == 429


def _unlocks() -> list[SecurityEvent]:
    return list(
        SecurityEvent.objects.filter(event_type=SecurityEvent.Type.UNLOCKED).order_by("id")
    )


def test_a_lockout_opens_one_episode_per_locked_subject() -> None:
    user = verified_user()
    _lock(user.email)
    # More refused attempts during the lockout open nothing more.
    sign_in_password(Client(), user.email)
    episodes = LockoutEpisode.objects.filter(unlocked_at__isnull=True)
    assert {(e.kind, e.subject) for e in episodes} == {
        ("account", user.email.lower()),
        ("address", ADDRESS),
    }
    assert episodes.get(kind="account").user_id == user.pk


def test_the_beat_job_records_the_end_of_the_cool_off_once() -> None:
    user = verified_user()
    _lock(user.email)
    start = timezone.now()

    with time_machine.travel(start + timedelta(minutes=29), tick=False):
        assert lockouts_unlock_task() == 0
        assert sign_in_password(Client(), user.email).status_code == 429
    assert _unlocks() == []

    with time_machine.travel(start + timedelta(minutes=31), tick=False):
        assert lockouts_unlock_task() == 2
        assert lockouts_unlock_task() == 0  # a repeated run does nothing
        assert sign_in_password(Client(), user.email).status_code == 302

    account, address = sorted(_unlocks(), key=lambda e: e.detail["lockout"])
    assert account.target_user_id == user.pk and account.detail["reason"] == "cool_off_expired"
    assert address.ip == ADDRESS and address.detail["reason"] == "cool_off_expired"
    assert account.actor_id is None and account.detail["locked_seconds"] >= 31 * 60
    assert not LockoutEpisode.objects.filter(unlocked_at__isnull=True).exists()


def test_the_next_attempt_after_the_cool_off_records_the_unlock_without_the_job() -> None:
    user = verified_user()
    _lock(user.email)
    with time_machine.travel(timezone.now() + timedelta(minutes=31), tick=False):
        assert sign_in_password(Client(), user.email).status_code == 302
        assert len(_unlocks()) == 2
        assert lockouts_unlock_task() == 0
    # A new lockout is a new episode with its own unlock.
    _lock(user.email)
    with time_machine.travel(timezone.now() + timedelta(minutes=31), tick=False):
        sign_in_password(Client(), user.email, WRONG)
        assert len(_unlocks()) == 4


def test_an_administrators_unlock_is_recorded_with_the_administrator() -> None:
    user = verified_user()
    admin = verified_user()
    _lock(user.email)

    lockout_clear(email=user.email.upper(), actor=admin)

    unlocks = _unlocks()
    assert len(unlocks) == 2  # the account, and the address its rows locked
    assert {e.actor_id for e in unlocks} == {admin.pk}
    assert {e.detail["reason"] for e in unlocks} == {"manual"}
    assert sign_in_password(Client(), user.email).status_code == 302
    with time_machine.travel(timezone.now() + timedelta(minutes=31), tick=False):
        assert lockouts_unlock_task() == 0
    assert len(_unlocks()) == 2


def test_an_unlock_with_nothing_locked_is_still_recorded_once() -> None:
    admin = verified_user()
    lockout_clear(ip="198.51.100.7", actor=admin)
    (event,) = _unlocks()
    assert event.actor_id == admin.pk and event.detail["reason"] == "manual"


@pytest.mark.django_db(transaction=True)
def test_parallel_sweeps_record_exactly_one_unlock_per_lockout() -> None:
    user = verified_user()
    _lock(user.email)
    assert LockoutEpisode.objects.filter(unlocked_at__isnull=True).count() == 2
    later = timezone.now() + timedelta(minutes=31)
    start = threading.Barrier(4)
    counts: list[int] = []
    lock = threading.Lock()

    def sweep() -> None:
        try:
            start.wait(timeout=10)
            closed = lockouts_expired_close(now=later)
            with lock:
                counts.append(closed)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(counts) == 4 and sum(counts) == 2
    assert len(_unlocks()) == 2
