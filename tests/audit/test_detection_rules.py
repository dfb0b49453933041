"""Every rule: events that trip it, and events just short of it that must not."""

from __future__ import annotations

import pytest

from audit.detection.rules import REGISTRY
from audit.models import Alert, AlertEvent, SecurityEvent
from tests import factories
from tests.audit.detection_helpers import alerts, at, record, run

pytestmark = pytest.mark.django_db

T = SecurityEvent.Type
ATTACKER = "198.51.100.23"


def _failures(
    count: int, *, ip: str = ATTACKER, start: float = 0, step: float = 0.5, **kwargs: object
) -> None:
    for index in range(count):
        record(T.SIGN_IN_FAILED, at(start + index * step), ip=ip, **kwargs)


def test_every_rule_has_settings_and_a_test_here() -> None:
    from django.conf import settings

    assert set(REGISTRY) == set(settings.DETECTION_RULES)
    source = open(__file__).read()
    for code in REGISTRY:
        assert f'alerts("{code}")' in source, code


def test_brute_force_ip_trips_at_threshold_and_counts_every_event() -> None:
    victim = factories.UserFactory()
    _failures(10, target_user=victim, detail={"username": victim.email})
    run()
    [alert] = alerts("brute_force_ip")
    assert alert.source_ip == ATTACKER
    assert alert.event_count == 10
    assert alert.severity == "high"
    assert AlertEvent.objects.filter(alert=alert).count() == 10


def test_brute_force_ip_does_not_trip_below_threshold_or_spread_out() -> None:
    _failures(9)
    # Ten more, but never ten inside one ten-minute window.
    _failures(10, ip="198.51.100.24", step=2)
    run()
    assert alerts("brute_force_ip") == []


def test_brute_force_ip_correlates_later_failures_into_the_same_alert() -> None:
    _failures(10)
    run()
    _failures(5, start=30)
    run()
    [alert] = alerts("brute_force_ip")
    # The five later ones do not form a burst of their own, but one in a new
    # window would; keep the same alert for the same attacker and day.
    _failures(10, start=60)
    run()
    [alert] = alerts("brute_force_ip")
    assert alert.event_count == 20


def test_brute_force_account_and_its_escalation_on_success() -> None:
    victim = factories.UserFactory()
    for index in range(10):
        record(T.SIGN_IN_FAILED, at(index * 0.2), ip=f"198.51.100.{index + 1}", target_user=victim)
    record(T.SIGN_IN_SUCCEEDED, at(3), ip="198.51.100.4", actor=victim)
    other = factories.UserFactory()
    _failures(9, ip="198.51.100.200", target_user=other)
    run()
    [alert] = alerts("brute_force_account")
    assert alert.key == f"user:{victim.pk}"
    assert alert.subject_user_id == victim.pk
    assert alert.severity == "critical"
    assert alert.summary["followed_by_success"] is True


def test_password_spraying_trips_on_many_accounts_not_on_one() -> None:
    for index in range(5):
        record(T.SSH_INVALID_USER, at(index), ip=ATTACKER, detail={"username": f"user{index}"})
    for index in range(8):
        record(T.SSH_FAILED, at(index), ip="198.51.100.99", detail={"username": "root"})
    run()
    [alert] = alerts("password_spraying")
    assert alert.source_ip == ATTACKER
    assert alert.summary["accounts"] == 5


def _history(user: factories.User, count: int = 5) -> None:
    for index in range(count):
        record(
            T.SIGN_IN_SUCCEEDED,
            at(-600 + index * 60),
            actor=user,
            ip="192.0.2.10",
            user_agent="Mozilla/5.0 Chrome/130.0",
            detail={"geo": {"country": "PT", "lat": 38.72, "lon": -9.14}},
        )


def test_new_network_then_sensitive_action_trips() -> None:
    user = factories.UserFactory()
    _history(user)
    record(
        T.SIGN_IN_SUCCEEDED,
        at(0),
        actor=user,
        ip="198.51.100.50",
        user_agent="Mozilla/5.0 Chrome/130.0",
    )
    record(T.API_KEY_CREATED, at(10), actor=user, ip="198.51.100.50")
    run()
    [alert] = alerts("new_network_sensitive_action")
    assert alert.subject_user_id == user.pk
    assert alert.event_count == 2


def test_known_network_then_sensitive_action_does_not_trip() -> None:
    user = factories.UserFactory()
    _history(user)
    record(
        T.SIGN_IN_SUCCEEDED,
        at(0),
        actor=user,
        ip="192.0.2.10",
        user_agent="Mozilla/5.0 Chrome/130.0",
    )
    record(T.API_KEY_CREATED, at(10), actor=user, ip="192.0.2.10")
    # A new network, but the sensitive action comes after the window.
    other = factories.UserFactory()
    _history(other)
    record(T.SIGN_IN_SUCCEEDED, at(0), actor=other, ip="198.51.100.60")
    record(T.DATA_EXPORTED, at(61), actor=other, ip="198.51.100.60")
    run()
    assert alerts("new_network_sensitive_action") == []


def test_impossible_travel_trips_and_plausible_travel_does_not() -> None:
    traveller = factories.UserFactory()
    lisbon = {"geo": {"country": "PT", "lat": 38.72, "lon": -9.14}}
    tokyo = {"geo": {"country": "JP", "lat": 35.68, "lon": 139.69}}
    record(T.SIGN_IN_SUCCEEDED, at(0), actor=traveller, ip="192.0.2.10", detail=lisbon)
    record(T.SIGN_IN_SUCCEEDED, at(60), actor=traveller, ip="198.51.100.7", detail=tokyo)
    slow = factories.UserFactory()
    record(T.SIGN_IN_SUCCEEDED, at(0), actor=slow, ip="192.0.2.11", detail=lisbon)
    record(T.SIGN_IN_SUCCEEDED, at(16 * 60), actor=slow, ip="198.51.100.8", detail=tokyo)
    run()
    [alert] = alerts("impossible_travel")
    assert alert.subject_user_id == traveller.pk
    assert alert.summary["distance_km"] > 10_000


def test_privilege_escalation_then_export_trips_only_inside_the_window() -> None:
    admin = factories.UserFactory()
    quick, slow = factories.UserFactory(), factories.UserFactory()
    record(T.ROLE_GRANTED, at(0), actor=admin, target_user=quick)
    record(T.DATA_EXPORTED, at(20), actor=quick)
    record(T.ROLE_GRANTED, at(0), actor=admin, target_user=slow)
    record(T.DATA_EXPORTED, at(90), actor=slow)
    run()
    [alert] = alerts("privilege_escalation_export")
    assert alert.subject_user_id == quick.pk
    assert alert.severity == "critical"


def test_api_key_used_from_a_new_network() -> None:
    owner = factories.UserFactory()
    for index in range(4):
        record(T.API_KEY_USED, at(index), actor=owner, ip="192.0.2.20", detail={"key_id": "k1"})
    run()
    assert alerts("api_key_new_network") == []
    record(T.API_KEY_USED, at(10), actor=owner, ip="192.0.2.21", detail={"key_id": "k1"})
    run()
    assert alerts("api_key_new_network") == []  # same /24: not a new network
    record(T.API_KEY_USED, at(11), actor=owner, ip="198.51.100.30", detail={"key_id": "k1"})
    run()
    [alert] = alerts("api_key_new_network")
    assert alert.key == "apikey:k1"


def test_mass_export_by_count_and_by_rows() -> None:
    many, big, normal = (factories.UserFactory() for _ in range(3))
    for index in range(5):
        record(T.DATA_EXPORTED, at(index), actor=many, detail={"rows": 10})
    record(T.DATA_EXPORTED, at(0), actor=big, detail={"rows": 60_000})
    for index in range(4):
        record(T.DATA_EXPORTED, at(index), actor=normal, detail={"rows": 1000})
    run()
    found = {alert.subject_user_id for alert in alerts("mass_export")}
    assert found == {many.pk, big.pk}


def test_repeated_permission_denials() -> None:
    prober, clumsy = factories.UserFactory(), factories.UserFactory()
    for index in range(10):
        record(T.PERMISSION_DENIED, at(index * 0.5), actor=prober)
    for index in range(9):
        record(T.PERMISSION_DENIED, at(index * 0.5), actor=clumsy)
    run()
    [alert] = alerts("permission_denials")
    assert alert.subject_user_id == prober.pk


def test_threat_intel_match_raises_and_unlisted_does_not(tmp_path) -> None:
    from audit.detection.threatintel import threat_list_import

    listed = tmp_path / "list.txt"
    listed.write_text("# source: test list\n# date: 2026-11-01\n203.0.113.0/24 scanner\n")
    threat_list_import(path=listed)
    record(T.SIGN_IN_FAILED, at(0), ip="203.0.113.77")
    record(T.SIGN_IN_FAILED, at(0), ip="198.51.100.77")
    run()
    [alert] = alerts("threat_intel_match")
    assert alert.source_ip == "203.0.113.77"


def test_thresholds_come_from_settings(settings) -> None:
    settings.DETECTION_RULES = {
        **settings.DETECTION_RULES,
        "brute_force_ip": {"threshold": 3, "window_minutes": 10, "severity": "medium"},
    }
    _failures(3)
    run()
    [alert] = alerts("brute_force_ip")
    assert alert.severity == "medium"


def test_repeated_and_missed_runs_raise_nothing_twice() -> None:
    _failures(10)
    first = run()
    assert first["alerts_created"] == 1
    again = run()
    assert again.get("events", 0) == 0
    # Two windows of activity with no run in between are both caught up.
    _failures(10, ip="198.51.100.41")
    _failures(10, ip="198.51.100.42", start=120)
    caught_up = run()
    assert caught_up["alerts_created"] == 2
    assert Alert.objects.filter(rule="brute_force_ip").count() == 3
    # Resetting the cursor re-reads everything and still adds nothing.
    from audit.models import DetectionCursor

    links = AlertEvent.objects.count()
    DetectionCursor.objects.update(last_event_id=0)
    replay = run()
    assert replay["alerts_created"] == 0
    assert Alert.objects.filter(rule="brute_force_ip").count() == 3
    assert AlertEvent.objects.count() == links
