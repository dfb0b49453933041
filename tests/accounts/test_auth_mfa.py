"""Second factor: enrolment, the login stage, single use under concurrency."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pyotp
import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.auth import mfa
from accounts.models import BackupCode, TOTPDevice
from audit.models import SecurityEvent
from tests.accounts.auth_support import (
    enrolled_device,
    member,
    sign_in_password,
    signed_in_user_id,
    verified_user,
)
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def test_owner_is_made_to_enrol_during_sign_in_with_a_qr_code_then_gets_backup_codes() -> None:
    user = verified_user()
    member(user, "owner")
    client = Client()
    response = sign_in_password(client, user.email)
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/"
    assert signed_in_user_id(client) is None

    page = client.get("/accounts/2fa/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'src="data:image/svg+xml;base64,' in html
    secret = re.search(r"<code>([A-Z2-7]{32})</code>", html).group(1)
    device = TOTPDevice.objects.get(user=user)
    assert device.secret == secret and not device.confirmed

    assert client.post("/accounts/2fa/", {"code": "000000"}).status_code == 200
    assert signed_in_user_id(client) is None
    # The wrong code costs a one-second wait before the next try.
    with time_machine.travel(timezone.now() + timedelta(seconds=2), tick=False):
        done = client.post("/accounts/2fa/", {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    codes = re.findall(r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>", done.content.decode())
    assert len(codes) == 10
    assert BackupCode.objects.filter(user=user).count() == 10
    assert not BackupCode.objects.filter(code_hash__in=codes).exists()

    finished = client.post("/accounts/2fa/", {"action": "continue"})
    assert finished.status_code == 302
    assert signed_in_user_id(client) == user.pk
    assert client.get("/api/me").status_code == 200
    assert SecurityEvent.objects.filter(
        event_type=SecurityEvent.Type.MFA_ENROLLED, target_user=user
    ).exists()


def test_member_without_a_device_signs_in_with_the_password_alone() -> None:
    user = verified_user()
    member(user, "member")
    client = Client()
    assert sign_in_password(client, user.email).status_code == 302
    assert signed_in_user_id(client) == user.pk


def test_organization_requiring_mfa_makes_its_members_enrol() -> None:
    user = verified_user()
    membership = member(user, "member")
    membership.organization.require_mfa = True
    membership.organization.save()
    response = sign_in_password(Client(), user.email)
    assert response["Location"] == "/accounts/2fa/"


def test_half_signed_in_session_gets_401_from_the_api_until_the_code() -> None:
    user = verified_user()
    _, totp = enrolled_device(user)
    client = Client()
    assert sign_in_password(client, user.email)["Location"] == "/accounts/2fa/"
    assert client.get("/api/me").status_code == 401
    page = client.get("/accounts/sessions/")
    assert page.status_code == 302 and page["Location"].startswith("/accounts/login/")
    assert client.get("/admin/").status_code == 302
    assert client.get("/accounts/2fa/").status_code == 200

    assert client.post("/accounts/2fa/", {"code": totp.now()}).status_code == 302
    assert client.get("/api/me").status_code == 200
    assert client.get("/accounts/sessions/").status_code == 200


def test_a_replayed_code_is_refused_twice_in_a_row() -> None:
    user = verified_user()
    _, totp = enrolled_device(user)
    code = totp.now()
    first = Client()
    sign_in_password(first, user.email)
    assert first.post("/accounts/2fa/", {"code": code}).status_code == 302
    for _ in range(2):
        replay = Client()
        sign_in_password(replay, user.email)
        with time_machine.travel(timezone.now() + timedelta(seconds=5), tick=False):
            refused = replay.post("/accounts/2fa/", {"code": code})
        assert refused.status_code in (400, 429)
        assert signed_in_user_id(replay) is None
    assert SecurityEvent.objects.filter(
        event_type=SecurityEvent.Type.MFA_FAILED, target_user=user
    ).exists()


def test_a_backup_code_works_once_only() -> None:
    user = verified_user()
    enrolled_device(user)
    codes = mfa.backup_codes_generate(user_id=user.pk)
    first = Client()
    sign_in_password(first, user.email)
    assert first.post("/accounts/2fa/", {"code": codes[0].upper()}).status_code == 302
    assert signed_in_user_id(first) == user.pk
    again = Client()
    sign_in_password(again, user.email)
    with time_machine.travel(timezone.now() + timedelta(seconds=5), tick=False):
        assert again.post("/accounts/2fa/", {"code": codes[0]}).status_code == 400
    assert BackupCode.objects.filter(user=user).count() == 9


def test_guessing_is_throttled_even_for_the_right_code() -> None:
    user = verified_user()
    _, totp = enrolled_device(user)
    for _ in range(3):
        mfa.second_factor_verify(user=user, code="000000", channel="test")
    result, wait = mfa.second_factor_verify(user=user, code=totp.now(), channel="test")
    assert result == mfa.MfaResult.THROTTLED and wait > 0
    with time_machine.travel(timezone.now() + timedelta(seconds=wait + 1), tick=False):
        result, _ = mfa.second_factor_verify(user=user, code=totp.now(), channel="test")
    assert result == mfa.MfaResult.ACCEPTED


def _race(target, count: int = 10) -> list[bool]:
    barrier = threading.Barrier(count)
    results: list[bool] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            outcome = target()
            with lock:
                results.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_ten_parallel_requests_with_one_totp_code_give_exactly_one_success() -> None:
    user = verified_user()
    device, totp = enrolled_device(user)
    code = totp.now()

    def attempt() -> bool:
        # Each thread loads its own copy on its own database connection.
        return TOTPDevice.objects.get(pk=device.pk).verify_token(code)

    results = _race(attempt)
    assert len(results) == 10
    assert results.count(True) == 1


@pytest.mark.django_db(transaction=True)
def test_ten_parallel_requests_with_one_backup_code_give_exactly_one_success() -> None:
    user = verified_user()
    enrolled_device(user)
    code = mfa.backup_codes_generate(user_id=user.pk)[0]
    results = _race(lambda: mfa.backup_code_use(user_id=user.pk, code=code))
    assert len(results) == 10
    assert results.count(True) == 1


def test_admin_needs_the_second_factor_and_a_portal_sign_in_with_it_reaches_admin() -> None:
    staff = verified_user(is_staff=True, is_superuser=True)
    _, totp = enrolled_device(staff)
    without = Client()
    refused = without.post(
        "/admin/login/?next=/admin/",
        {"username": staff.email, "password": DEFAULT_PASSWORD, "otp_token": ""},
    )
    assert refused.status_code == 200 and without.get("/admin/").status_code == 302

    portal = Client()
    sign_in_password(portal, staff.email)
    assert portal.post("/accounts/2fa/", {"code": totp.now()}).status_code == 302
    assert portal.get("/admin/").status_code == 200


def test_jwt_endpoint_asks_for_the_code_of_a_user_who_must_have_mfa() -> None:
    user = verified_user()
    member(user, "admin")
    api = APIClient()
    body = {"email": user.email, "password": DEFAULT_PASSWORD}
    not_enrolled = api.post("/api/auth/token", body, format="json")
    assert not_enrolled.status_code == 403
    assert not_enrolled.json()["code"] == "mfa_enrolment_required"

    _, totp = enrolled_device(user)
    missing = api.post("/api/auth/token", body, format="json")
    assert missing.status_code == 401 and missing.json()["code"] == "mfa_required"
    code = totp.now()
    ok = api.post("/api/auth/token", {**body, "otp": code}, format="json")
    assert ok.status_code == 200
    replay = api.post("/api/auth/token", {**body, "otp": code}, format="json")
    assert replay.status_code == 401 and replay.json()["code"] == "mfa_invalid"


def test_a_member_may_enrol_from_the_settings_page_and_the_session_key_changes() -> None:
    user = verified_user()
    client = Client()
    sign_in_password(client, user.email)
    page = client.get("/accounts/security/mfa/")
    assert page.status_code == 200 and b"optional" in page.content
    secret = re.search(r"<code>([A-Z2-7]{32})</code>", page.content.decode()).group(1)
    before = client.cookies["sessionid"].value
    done = client.post(
        "/accounts/security/mfa/", {"action": "confirm", "code": pyotp.TOTP(secret).now()}
    )
    assert done.status_code == 200
    assert len(re.findall(r"<code>[a-z0-9]{5}-[a-z0-9]{5}</code>", done.content.decode())) == 10
    assert client.cookies["sessionid"].value != before
    assert client.get("/api/me").status_code == 200
    assert mfa.mfa_enabled_for(user)

    # From now on the sign-in asks for the code.
    client.logout()
    assert sign_in_password(client, user.email)["Location"] == "/accounts/2fa/"


def test_mfa_reset_removes_the_factor_and_refuses_earlier_tokens() -> None:
    user = verified_user()
    _, totp = enrolled_device(user)
    mfa.backup_codes_generate(user_id=user.pk)
    api = APIClient()
    pair = api.post(
        "/api/auth/token",
        {"email": user.email, "password": DEFAULT_PASSWORD, "otp": totp.now()},
        format="json",
    ).json()
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {pair['access']}"}
    assert APIClient().get("/api/me", **bearer).status_code == 200
    mfa.mfa_reset(user=user, actor=verified_user())
    assert APIClient().get("/api/me", **bearer).status_code == 401
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not BackupCode.objects.filter(user=user).exists()
    assert SecurityEvent.objects.filter(
        event_type=SecurityEvent.Type.MFA_REMOVED, target_user=user
    ).exists()


def test_promotion_to_admin_after_sign_in_demands_a_second_factor_everywhere() -> None:
    user = verified_user()
    membership = member(user, "member")
    browser = Client()
    sign_in_password(browser, user.email)
    pair = (
        APIClient()
        .post(
            "/api/auth/token", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json"
        )
        .json()
    )
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {pair['access']}"}
    assert browser.get("/api/me").status_code == 200
    assert browser.get("/accounts/sessions/").status_code == 200
    assert APIClient().get("/api/me", **bearer).status_code == 200

    from tests import factories

    membership.role = factories.builtin_role("admin")
    membership.save()
    with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=False):
        assert browser.get("/api/me").status_code == 403
        page = browser.get("/accounts/sessions/")
        assert page.status_code == 302 and page["Location"] == "/accounts/security/mfa/"
        assert browser.get("/accounts/security/mfa/").status_code == 200
        assert APIClient().get("/api/me", **bearer).status_code == 401
