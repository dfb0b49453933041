"""Password policy: both profiles, history of five, expiry, revocation on change."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client, override_settings
from django.utils import timezone

from accounts.models import PasswordHistory, User, UserSession
from audit.models import SecurityEvent
from tests.accounts.auth_support import sign_in_password, signed_in_user_id, verified_user
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

NIST_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "accounts.auth.passwords.PasswordHistoryValidator", "OPTIONS": {"count": 5}},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 15},
    },
    {
        "NAME": "django.contrib.auth.password_validation.CommonPasswordValidator",
        "OPTIONS": {
            "password_list_path": __import__("django.conf").conf.settings.PASSWORD_BREACHED_LIST
        },
    },
]


def _codes(password: str, user: User | None = None) -> set[str]:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        return {error.code for error in exc.error_list}
    return set()


def test_compliance_profile_accepts_a_strong_password_and_names_each_missing_class() -> None:
    assert _codes("Tr0ub4dor&Three") == set()
    assert "password_too_short" in _codes("Sh0rt&pw")
    assert _codes("alllowercase-long-9") == {"password_composition"}
    assert _codes("NoDigitsHere&There") == {"password_composition"}
    assert _codes("NoSpecial9Characters") == {"password_composition"}


def test_nist_profile_needs_fifteen_characters_no_composition_and_refuses_breached() -> None:
    with override_settings(
        AUTH_PASSWORD_VALIDATORS=NIST_VALIDATORS, PASSWORD_POLICY_PROFILE="nist"
    ):
        assert _codes("plain lowercase words only") == set()
        assert "password_too_short" in _codes("Tr0ub4dor&Three"[:14])
        # On the shipped list (our additions) although long enough.
        assert "password_too_common" in _codes("correcthorsebatterystaple")
        assert "password_too_common" in _codes("cloudexpress2026")


def test_the_last_five_passwords_are_refused_and_the_sixth_is_accepted_again() -> None:
    user = verified_user()
    passwords = [f"History-Pass-{n}!x" for n in range(6)]
    for password in passwords:
        validate_password(password, user)
        user.set_password(password)
        user.save()
    assert PasswordHistory.objects.filter(user=user).count() == 5
    assert all(
        not row.password_hash.startswith("History")
        for row in PasswordHistory.objects.filter(user=user)
    )
    for recent in passwords[1:]:
        assert "password_reused" in _codes(recent, user)
    # passwords[0] (and the factory's) dropped out of the five.
    assert "password_reused" not in _codes(passwords[0], user)
    assert "password_reused" not in _codes(DEFAULT_PASSWORD, user)


def test_changing_the_password_ends_other_sessions_keeps_this_one_and_bumps_version() -> None:
    user = verified_user()
    mine, other = Client(), Client()
    assert sign_in_password(mine, user.email).status_code == 302
    assert sign_in_password(other, user.email).status_code == 302
    assert other.get("/api/me").status_code == 200
    version = User.objects.get(pk=user.pk).credentials_version

    response = mine.post(
        "/accounts/password/change/",
        {
            "oldpassword": DEFAULT_PASSWORD,
            "password1": "Brand-New-Pass-42!",
            "password2": "Brand-New-Pass-42!",
        },
    )
    assert response.status_code == 302, response.content
    # Deleted at once, not only refused when next used.
    assert UserSession.objects.filter(user=user).count() == 1

    assert other.get("/api/me").status_code == 401
    assert mine.get("/api/me").status_code == 200
    assert User.objects.get(pk=user.pk).credentials_version == version + 1
    assert SecurityEvent.objects.filter(
        event_type=SecurityEvent.Type.PASSWORD_CHANGED, target_user=user
    ).exists()


def test_an_expired_password_forces_a_change_at_the_next_sign_in() -> None:
    user = verified_user()
    client = Client()
    assert sign_in_password(client, user.email).status_code == 302
    assert client.get("/accounts/sessions/").status_code == 200
    client.logout()

    with time_machine.travel(timezone.now() + timedelta(days=91), tick=False):
        assert sign_in_password(client, user.email).status_code == 302
        assert signed_in_user_id(client) == user.pk
        page = client.get("/accounts/sessions/")
        assert page.status_code == 302
        assert page["Location"] == "/accounts/password/change/"
        assert client.get("/api/me").status_code == 403
        assert client.get("/accounts/password/change/").status_code == 200
        changed = client.post(
            "/accounts/password/change/",
            {
                "oldpassword": DEFAULT_PASSWORD,
                "password1": "Fresh-Pass-2099!",
                "password2": "Fresh-Pass-2099!",
            },
        )
        assert changed.status_code == 302
        assert client.get("/accounts/sessions/").status_code == 200


def test_the_nist_profile_never_expires_a_password() -> None:
    user = verified_user()
    client = Client()
    with override_settings(PASSWORD_POLICY_PROFILE="nist"):
        with time_machine.travel(timezone.now() + timedelta(days=400), tick=False):
            assert sign_in_password(client, user.email).status_code == 302
            assert client.get("/accounts/sessions/").status_code == 200


def test_policy_api_reports_the_profile_and_the_documented_nist_deviation() -> None:
    user = verified_user()
    client = Client()
    assert client.get("/api/compliance/security/policy").status_code == 401
    sign_in_password(client, user.email)
    body = client.get("/api/compliance/security/policy").json()
    assert body["profile"] == "compliance"
    assert body["min_length"] == 12 and body["expiry_days"] == 90
    assert body["hasher"] == "Argon2PasswordHasher"
    (deviation,) = body["deviations"]
    assert deviation["standard"] == "NIST SP 800-63B-4"
    assert "periodic_expiry" in deviation["rules"] and deviation["reason"]
    with override_settings(PASSWORD_POLICY_PROFILE="nist"):
        nist = client.get("/api/compliance/security/policy").json()
    assert nist["profile"] == "nist" and nist["deviations"] == [] and nist["expiry_days"] is None
