"""Requests refused from a blocked address become security events, at most
one per address and minute, each counting the previous window's refusals."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from audit.detection import blocklist
from audit.models import BlockedAddress, SecurityEvent

pytestmark = pytest.mark.django_db

ATTACKER = "198.51.100.66"
# Mid-minute, so the steps below stay inside the minute they mean.
START = dt.datetime(2026, 12, 1, 10, 0, 20, tzinfo=dt.UTC)


def _block(network: str) -> None:
    BlockedAddress.objects.create(
        network=network, reason="test", expires_at=START + dt.timedelta(days=1)
    )
    blocklist.invalidate()


def _denials() -> list[SecurityEvent]:
    return list(
        SecurityEvent.objects.filter(event_type=SecurityEvent.Type.IP_DENIED).order_by("id")
    )


def test_a_flood_from_a_blocked_address_records_one_event_per_minute() -> None:
    with time_machine.travel(START, tick=False) as traveller:
        attacker = Client(REMOTE_ADDR=ATTACKER)
        # Before the block the same client is served and nothing is denied.
        assert attacker.get("/healthz").status_code == 200
        assert attacker.get("/api/me").status_code == 401
        assert _denials() == []

        _block(f"{ATTACKER}/32")
        for _ in range(50):
            response = attacker.get("/api/me")
            assert response.status_code == 403
            assert response.json()["code"] == "address_blocked"
        assert attacker.get("/").status_code == 403
        events = _denials()
        assert len(events) == 1
        first = events[0]
        assert first.ip == ATTACKER
        assert first.detail["reason"] == "blocked"
        assert first.detail["network"] == f"{ATTACKER}/32"
        assert first.detail["channel"] == "api"
        assert "previous_window_refusals" not in first.detail

        # The next minute: one more event, counting the 51 refusals before.
        traveller.shift(dt.timedelta(seconds=60))
        for _ in range(3):
            assert attacker.get("/").status_code == 403
        events = _denials()
        assert len(events) == 2
        assert events[1].detail["channel"] == "web"
        assert events[1].detail["previous_window_refusals"] == 51
        assert events[1].detail["previous_window_start"] == "2026-12-01T10:00:00+00:00"

        # A pause of an hour, then one refusal: the previous window counted 3.
        traveller.shift(dt.timedelta(hours=1))
        assert attacker.get("/api/me").status_code == 403
        events = _denials()
        assert len(events) == 3
        assert events[2].detail["previous_window_refusals"] == 3

        # Probes still answer, and record nothing.
        assert attacker.get("/healthz").status_code == 200
        assert len(_denials()) == 3


def test_other_addresses_are_served_and_each_blocked_address_counts_alone() -> None:
    with time_machine.travel(START, tick=False):
        _block("203.0.113.0/24")
        first, second = Client(REMOTE_ADDR="203.0.113.5"), Client(REMOTE_ADDR="203.0.113.6")
        bystander = Client(REMOTE_ADDR="192.0.2.10")
        for _ in range(5):
            assert first.get("/api/me").status_code == 403
            assert second.get("/api/me").status_code == 403
            assert bystander.get("/api/me").status_code == 401
        assert sorted(event.ip for event in _denials()) == ["203.0.113.5", "203.0.113.6"]


def test_addresses_rotating_inside_a_blocked_range_are_capped_per_minute(settings) -> None:
    settings.DETECTION_CONTAINMENT = {
        **settings.DETECTION_CONTAINMENT,
        "refusal_events_per_network": 3,
    }
    with time_machine.travel(START, tick=False) as traveller:
        _block("2001:db8:1::/48")
        for host in range(1, 11):
            response = Client(REMOTE_ADDR=f"2001:db8:1::{host:x}").get("/api/me")
            assert response.status_code == 403
        assert len(_denials()) == 3
        traveller.shift(dt.timedelta(minutes=1))
        for host in range(11, 21):
            assert Client(REMOTE_ADDR=f"2001:db8:1::{host:x}").get("/").status_code == 403
        assert len(_denials()) == 6


def test_a_lifted_block_serves_the_address_again_and_records_nothing() -> None:
    with time_machine.travel(START, tick=False):
        _block(f"{ATTACKER}/32")
        attacker = Client(REMOTE_ADDR=ATTACKER)
        assert attacker.get("/api/me").status_code == 403
        BlockedAddress.objects.update(lifted_at=START)
        blocklist.invalidate()
        for _ in range(3):
            assert attacker.get("/api/me").status_code == 401
        assert len(_denials()) == 1
