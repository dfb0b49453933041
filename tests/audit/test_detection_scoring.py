"""Risk scores: base severity plus the per-user likelihood ratio, explained."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from audit.detection.scoring import network_prefix, user_agent_family
from audit.detection.threatintel import ThreatListError, threat_list_parse
from audit.models import Notification, SecurityEvent, SignInProfileEntry, ThreatIndicator
from tests import factories
from tests.audit.detection_helpers import at, record, run

pytestmark = pytest.mark.django_db

T = SecurityEvent.Type
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def _usual(user: factories.User, count: int = 8) -> None:
    for index in range(count):
        record(
            T.SIGN_IN_SUCCEEDED,
            at(index * 24 * 60),
            actor=user,
            ip="192.0.2.10",
            user_agent=CHROME,
            detail={"geo": {"country": "PT"}},
        )


def _scored(event: SecurityEvent) -> SecurityEvent:
    return SecurityEvent.objects.get(pk=event.pk)


def test_features() -> None:
    assert network_prefix("192.0.2.77") == "192.0.2.0/24"
    assert network_prefix("2001:db8:1:2::5") == "2001:db8:1::/48"
    assert user_agent_family(CHROME) == "chrome"
    assert user_agent_family(FIREFOX) == "firefox"
    assert user_agent_family("curl/8.5") == "curl"
    assert user_agent_family("") == ""


def test_unusual_sign_in_scores_high_and_says_why() -> None:
    user = factories.UserFactory()
    _usual(user)
    usual = record(
        T.SIGN_IN_SUCCEEDED,
        at(9 * 24 * 60),
        actor=user,
        ip="192.0.2.10",
        user_agent=CHROME,
        detail={"geo": {"country": "PT"}},
    )
    strange = record(
        T.SIGN_IN_SUCCEEDED,
        at(9 * 24 * 60 + 17 * 60),
        actor=user,
        ip="198.51.100.9",
        user_agent=FIREFOX,
        detail={"geo": {"country": "BR"}},
    )
    run()
    usual, strange = _scored(usual), _scored(strange)
    assert usual.risk_score is not None and strange.risk_score is not None
    assert usual.risk_score <= 10
    assert strange.risk_score >= 50
    factors = strange.risk_factors
    assert factors["history"] == 9
    assert set(factors["high"]) == {"ip", "net", "country", "ua", "hour"}
    assert factors["new_network"] is True and factors["new_country"] is True
    assert usual.risk_factors["high"] == []
    assert "new_network" not in usual.risk_factors
    # The event's hashed content is untouched by scoring: the chain holds.
    from audit import chain

    assert chain.compute_hash(strange.prev_hash, strange) == strange.row_hash


def test_no_history_is_neutral_and_failures_do_not_teach_the_model() -> None:
    user = factories.UserFactory()
    first = record(T.SIGN_IN_SUCCEEDED, at(0), actor=user, ip="198.51.100.9", user_agent=CHROME)
    for index in range(5):
        record(T.SIGN_IN_FAILED, at(1 + index), target_user=user, ip="203.0.113.200")
    run()
    first = _scored(first)
    assert first.risk_factors["bits"] == 0 and first.risk_factors["anomaly"] == 0
    assert not SignInProfileEntry.objects.filter(
        subject=f"user:{user.pk}", feature="ip", value="203.0.113.200"
    ).exists()
    assert SignInProfileEntry.objects.get(subject=f"user:{user.pk}", feature="_total").count == 1


def test_new_network_sign_in_tells_the_user_once() -> None:
    user = factories.UserFactory()
    _usual(user, count=4)
    run()
    assert not Notification.objects.filter(recipient=user).exists()
    record(T.SIGN_IN_SUCCEEDED, at(5 * 24 * 60), actor=user, ip="198.51.100.9", user_agent=CHROME)
    run()
    run()
    [note] = Notification.objects.filter(recipient=user, kind="account_security")
    assert "new sign-in" in note.title.lower()
    assert [m.to for m in mail.outbox] == [[user.email]]


def test_threat_list_raises_risk_and_is_loaded_by_command() -> None:
    out = StringIO()
    call_command("threat_intel_import", "--sample", stdout=out)
    assert '"entries": 3' in out.getvalue()
    assert ThreatIndicator.objects.filter(source__startswith="CloudExpress sample").count() == 3
    listed = record(T.SIGN_IN_FAILED, at(0), ip="203.0.113.50")
    listed_v6 = record(T.SIGN_IN_FAILED, at(0), ip="2001:db8:bad:1::9")
    clean = record(T.SIGN_IN_FAILED, at(0), ip="198.51.100.50")
    run()
    listed, listed_v6, clean = _scored(listed), _scored(listed_v6), _scored(clean)
    assert listed.risk_factors["threat"] == 40
    assert listed.risk_factors["threat_intel"]["network"] == "203.0.113.0/24"
    assert listed_v6.risk_factors["threat_intel"]["category"] == "botnet"
    assert clean.risk_factors["threat"] == 0
    assert listed.risk_score == clean.risk_score + 40
    # Importing again replaces the source's entries instead of adding.
    call_command("threat_intel_import", "--sample", stdout=StringIO())
    assert ThreatIndicator.objects.count() == 3


def test_threat_list_format_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ThreatListError, match="source"):
        threat_list_parse("# date: 2026-01-01\n203.0.113.1\n")
    with pytest.raises(ThreatListError, match="date"):
        threat_list_parse("# source: x\n203.0.113.1\n")
    with pytest.raises(ThreatListError, match="line 3"):
        threat_list_parse("# source: x\n# date: 2026-01-01\nnot-an-address\n")
    bad = tmp_path / "bad.txt"
    bad.write_text("# source: x\n")
    with pytest.raises(CommandError):
        call_command("threat_intel_import", str(bad))


def test_ipv4_fast_path_agrees_with_ipaddress() -> None:
    import ipaddress

    from audit.detection.addresses import ipv4_int
    from audit.detection.ingest import _ip_text

    for text in ("0.0.0.0", "192.0.2.77", "255.255.255.255", "10.0.0.1"):
        assert ipv4_int(text) == int(ipaddress.IPv4Address(text))
        assert _ip_text(text) == text
    for text in ("01.2.3.4", "256.1.1.1", "1.2.3", "1.2.3.4.5", "1..2.3", "\u0661.2.3.4", ""):
        assert ipv4_int(text) is None
    # What the fast path refuses still goes to ipaddress, which decides.
    assert _ip_text("::ffff:192.0.2.1") == "192.0.2.1"
    assert _ip_text("01.2.3.4") is None
    assert network_prefix("203.0.113.200") == "203.0.113.0/24"


def test_sign_in_with_a_new_device_on_a_known_network_tells_the_user() -> None:
    from django.utils import timezone

    user = factories.UserFactory()
    now = timezone.now()
    for day in range(4):
        record(
            T.SIGN_IN_SUCCEEDED,
            now - timezone.timedelta(days=4 - day),
            actor=user,
            ip="192.0.2.10",
            user_agent=CHROME,
        )
    run()
    # The same browser again says nothing.
    record(T.SIGN_IN_SUCCEEDED, now, actor=user, ip="192.0.2.10", user_agent=CHROME)
    run()
    assert not Notification.objects.filter(recipient=user).exists()

    event = record(T.SIGN_IN_SUCCEEDED, now, actor=user, ip="192.0.2.10", user_agent=FIREFOX)
    run()
    run()
    [note] = Notification.objects.filter(recipient=user, kind="account_security")
    assert note.title == "Sign-in from a new device"
    assert _scored(event).risk_factors["new_device"] is True
    assert "new_network" not in _scored(event).risk_factors
    assert [m.to for m in mail.outbox] == [[user.email]]


def test_owners_are_told_of_password_mfa_and_api_key_changes_once() -> None:
    from django.utils import timezone

    from audit.detection.notifications import ACCOUNT_EVENT_TEXT

    user, admin = factories.UserFactory(), factories.UserFactory()
    now = timezone.now()
    record(T.PASSWORD_CHANGED, now, target_user=user)
    record(T.MFA_ENROLLED, now, target_user=user)
    record(T.MFA_REMOVED, now, actor=admin, target_user=user)
    record(T.API_KEY_CREATED, now, actor=admin, target_user=user)
    # A service key belongs to no user: nobody is told, not its creator.
    record(T.API_KEY_CREATED, now, actor=admin)
    # Old changes found by a first run over an old trail are not sent.
    record(T.PASSWORD_CHANGED, now - timezone.timedelta(days=3), target_user=admin)
    run()
    run()

    titles = sorted(Notification.objects.filter(recipient=user).values_list("title", flat=True))
    assert titles == sorted(
        [
            ACCOUNT_EVENT_TEXT["password_changed"][0],
            ACCOUNT_EVENT_TEXT["mfa_changed"][0],
            ACCOUNT_EVENT_TEXT["mfa_changed"][0],
            ACCOUNT_EVENT_TEXT["api_key_created"][0],
        ]
    )
    assert not Notification.objects.filter(recipient=admin).exists()
    assert sorted(m.to[0] for m in mail.outbox) == [user.email] * 4


def test_a_subject_without_history_is_explained_as_neutral_without_arithmetic() -> None:
    import math

    from audit.detection.scoring import GLOBAL, TOTAL, RiskScorer

    scorer = RiskScorer([])
    scorer.counts.update({(GLOBAL, TOTAL, ""): 1234, (GLOBAL, "ip", "192.0.2.1"): 17})
    features = {"ip": "192.0.2.1", "net": "192.0.2.0/24", "hour": "03"}
    anomaly, result = scorer._likelihood("ssh:host:nobody", features)

    assert anomaly == 0
    assert result["history"] == 0 and result["bits"] == 0.0 and result["high"] == []
    assert [item["feature"] for item in result["features"]] == ["ip", "net", "hour"]
    # The shortcut is exact: with no history the smoothed subject frequency
    # equals the population's, whatever it is, so each ratio is 1.
    expected = zip(result["features"], (17, 0, 0), (100_000, 20_000, 24), strict=True)
    for item, count, domain in expected:
        p_all = (count + 1) / (1234 + domain)
        p_subject = (0 + 1.0 * p_all) / (0 + 1.0)
        assert item["likelihood_ratio"] == round(p_all / p_subject, 3) == 1.0
        assert item["bits"] == round(math.log2(p_all / p_subject), 2) == 0.0
        assert item["seen"] == 0 and item["subject_share"] is None

    # One sign-in of history takes the full computation.
    scorer.counts[("ssh:host:nobody", TOTAL, "")] = 1
    _, known = scorer._likelihood("ssh:host:nobody", features)
    assert known["history"] == 1 and known["bits"] > 0
