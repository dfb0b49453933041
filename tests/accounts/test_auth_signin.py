"""Sign-up with verification, enumeration-proof answers, and axes lockout on
every way in (sign-in page, admin, JWT endpoint)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from allauth.account.models import EmailAddress
from axes.models import AccessAttempt
from django.core import mail
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.auth.lockout import axes_username, lockout_clear
from accounts.models import User
from audit.models import SecurityEvent
from tests.accounts.auth_support import (
    enrolled_device,
    link_in_last_mail,
    sign_in_password,
    signed_in_user_id,
    verified_user,
)
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

WRONG = "Wrong-Password-1!"


def test_sign_up_needs_the_verification_link_before_first_use() -> None:
    client = Client()
    response = client.post(
        "/accounts/signup/",
        {
            "email": "New.Person@Example.test",
            "password1": "Sign-Up-Pass-77!",
            "password2": "Sign-Up-Pass-77!",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="new.person@example.test")
    assert signed_in_user_id(client) is None
    assert client.get("/api/me").status_code == 401
    # Signing in before verifying only sends the link again.
    sign_in_password(client, user.email, "Sign-Up-Pass-77!")
    assert signed_in_user_id(client) is None

    link = link_in_last_mail(r"http://testserver(/accounts/confirm-email/[^\s]+)")
    path = link.replace("http://testserver", "")
    assert client.get(path).status_code == 200
    assert client.post(path).status_code == 302
    assert EmailAddress.objects.get(user=user).verified
    assert SecurityEvent.objects.filter(
        event_type=SecurityEvent.Type.EMAIL_VERIFIED, target_user=user
    ).exists()

    assert sign_in_password(client, user.email, "Sign-Up-Pass-77!").status_code == 302
    assert signed_in_user_id(client) == user.pk
    assert client.get("/api/me").status_code == 200


def test_sign_up_with_an_existing_address_answers_like_a_new_one() -> None:
    existing = verified_user()
    fresh = Client().post(
        "/accounts/signup/",
        {
            "email": "nobody@example.test",
            "password1": "Sign-Up-Pass-77!",
            "password2": "Sign-Up-Pass-77!",
        },
    )
    again = Client().post(
        "/accounts/signup/",
        {
            "email": existing.email,
            "password1": "Sign-Up-Pass-77!",
            "password2": "Sign-Up-Pass-77!",
        },
    )
    assert fresh.status_code == again.status_code == 302
    assert fresh["Location"] == again["Location"]
    assert User.objects.filter(email=existing.email).count() == 1


def test_password_reset_answers_the_same_for_known_and_unknown_addresses() -> None:
    user = verified_user()
    known = Client().post("/accounts/password/reset/", {"email": user.email})
    unknown = Client().post("/accounts/password/reset/", {"email": "ghost@example.test"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]


def test_password_reset_link_sets_a_new_password() -> None:
    user = verified_user()
    client = Client()
    client.post("/accounts/password/reset/", {"email": user.email})
    link = link_in_last_mail(r"http://testserver(/accounts/password/reset/key/[^\s]+)")
    form_page = client.get(link.replace("http://testserver", ""), follow=True)
    assert form_page.status_code == 200
    target = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link
    done = client.post(target, {"password1": "Reset-Pass-2026!", "password2": "Reset-Pass-2026!"})
    assert done.status_code == 302
    assert User.objects.get(pk=user.pk).check_password("Reset-Pass-2026!")
    assert SecurityEvent.objects.filter(
        event_type=SecurityEvent.Type.PASSWORD_RESET, target_user=user
    ).exists()


def test_wrong_password_and_unknown_account_get_the_same_page() -> None:
    user = verified_user()
    wrong = sign_in_password(Client(), user.email, WRONG)
    unknown = sign_in_password(Client(), "ghost@example.test", WRONG)
    assert wrong.status_code == unknown.status_code == 200
    for response in (wrong, unknown):
        assert b"not correct" in response.content or b"incorrect" in response.content


# --- axes -----------------------------------------------------------------


def test_axes_reads_the_email_allauth_passes_and_folds_case_and_space() -> None:
    # allauth calls authenticate(request, email=..., password=...).
    assert axes_username(None, {"username": None, "email": "  Alice@Example.TEST "}) == (
        "alice@example.test"
    )
    assert axes_username(None, {"username": "ALICE@example.test"}) == "alice@example.test"


def test_sixth_attempt_with_the_correct_password_is_refused_on_the_page() -> None:
    user = verified_user()
    works = Client()
    assert sign_in_password(works, user.email).status_code == 302
    assert signed_in_user_id(works) == user.pk

    attacker = Client()
    answers = [sign_in_password(attacker, user.email, WRONG).status_code for _ in range(5)]
    # The fifth failure reaches the limit and is answered with the lockout.
    assert answers == [200, 200, 200, 200, 429]
    locked = sign_in_password(Client(), user.email)
    assert locked.status_code == 429
    assert AccessAttempt.objects.filter(username=user.email).exists()
    assert SecurityEvent.objects.filter(
        event_type=SecurityEvent.Type.LOCKED_OUT, target_user=user
    ).exists()


def test_sixth_attempt_with_the_correct_password_is_refused_in_admin() -> None:
    admin_user = verified_user(is_staff=True, is_superuser=True)
    device, totp = enrolled_device(admin_user)
    first = Client()
    ok = first.post(
        "/admin/login/?next=/admin/",
        {
            "username": admin_user.email,
            "password": DEFAULT_PASSWORD,
            "otp_device": device.persistent_id,
            "otp_token": totp.now(),
        },
    )
    assert ok.status_code == 302, ok.content
    assert first.get("/admin/").status_code == 200

    for _ in range(5):
        Client().post(
            "/admin/login/",
            {"username": admin_user.email, "password": WRONG, "otp_token": "000000"},
        )
    with time_machine.travel(timezone.now() + timedelta(seconds=31), tick=False):
        locked = Client().post(
            "/admin/login/?next=/admin/",
            {
                "username": admin_user.email,
                "password": DEFAULT_PASSWORD,
                "otp_device": device.persistent_id,
                "otp_token": totp.now(),
            },
        )
    assert locked.status_code == 429
    assert AccessAttempt.objects.filter(username=admin_user.email).exists()


def test_sixth_attempt_with_the_correct_password_is_refused_at_the_jwt_endpoint() -> None:
    user = verified_user()
    api = APIClient()
    ok = api.post(
        "/api/auth/token", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json"
    )
    assert ok.status_code == 200, ok.content
    answers = [
        api.post("/api/auth/token", {"email": user.email, "password": WRONG}, format="json")
        for _ in range(5)
    ]
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 403], answers[0].content
    locked = APIClient().post(
        "/api/auth/token", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json"
    )
    assert locked.status_code == 403
    assert locked.json()["code"] == "locked_out"
    assert AccessAttempt.objects.filter(username=user.email).exists()


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_thirty_forged_forwarded_for_headers_still_lock_the_account() -> None:
    user = verified_user()
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    works = sign_in_password(
        Client(), user.email, HTTP_X_FORWARDED_FOR="1.1.1.1, 198.51.100.7", **proxy
    )
    assert works.status_code == 302
    for n in range(30):
        forged = f"203.0.113.{n}, 198.51.100.7"
        sign_in_password(Client(), user.email, WRONG, HTTP_X_FORWARDED_FOR=forged, **proxy)
    ips = set(AccessAttempt.objects.values_list("ip_address", flat=True))
    assert ips == {"198.51.100.7"}
    locked = sign_in_password(
        Client(), user.email, HTTP_X_FORWARDED_FOR="192.0.2.99, 198.51.100.8", **proxy
    )
    # A different real address, the correct password: the account lock holds.
    assert locked.status_code == 429


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_failures_from_many_real_addresses_lock_the_account_alone() -> None:
    user = verified_user()
    for n in range(5):
        sign_in_password(
            Client(),
            user.email,
            WRONG,
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        )
    locked = sign_in_password(
        Client(), user.email, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.200"
    )
    assert locked.status_code == 429


def test_failures_from_one_address_lock_that_address_for_other_accounts() -> None:
    victims = [verified_user() for _ in range(5)]
    bystander = verified_user()
    for victim in victims:
        sign_in_password(Client(), victim.email, WRONG, REMOTE_ADDR="192.0.2.50")
    assert sign_in_password(Client(), bystander.email, REMOTE_ADDR="192.0.2.51").status_code == 302
    locked = sign_in_password(Client(), bystander.email, REMOTE_ADDR="192.0.2.50")
    assert locked.status_code == 429


def test_alice_ALICE_and_alice_share_one_counter() -> None:
    user = verified_user(email="alice@example.test")
    assert sign_in_password(Client(), "Alice@example.test").status_code == 302
    for spelling in (
        "Alice@example.test",
        "ALICE@EXAMPLE.TEST",
        " alice@example.test ",
        "alice@Example.test",
        "ALICE@example.test",
    ):
        sign_in_password(Client(), spelling, WRONG, REMOTE_ADDR=f"192.0.2.{len(spelling)}")
    assert set(AccessAttempt.objects.values_list("username", flat=True)) == {user.email}
    assert (
        sign_in_password(Client(), "alice@example.test", REMOTE_ADDR="192.0.2.200").status_code
        == 429
    )


def test_lockout_lifts_after_the_cool_off_and_an_unlock_is_recorded() -> None:
    user = verified_user()
    for _ in range(5):
        sign_in_password(Client(), user.email, WRONG)
    assert sign_in_password(Client(), user.email).status_code == 429
    with time_machine.travel(timezone.now() + timedelta(minutes=29), tick=False):
        assert sign_in_password(Client(), user.email).status_code == 429
    with time_machine.travel(timezone.now() + timedelta(minutes=31), tick=False):
        assert sign_in_password(Client(), user.email).status_code == 302

    for _ in range(5):
        sign_in_password(Client(), user.email, WRONG)
    assert sign_in_password(Client(), user.email).status_code == 429
    assert lockout_clear(email=user.email.upper(), ip="127.0.0.1") >= 1
    assert sign_in_password(Client(), user.email).status_code == 302
    assert SecurityEvent.objects.filter(event_type=SecurityEvent.Type.UNLOCKED).exists()
    assert not mail.outbox or all("password" not in m.subject.lower() for m in mail.outbox)


def test_known_wrong_unknown_and_correct_sign_ins_each_pay_one_password_hash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.contrib.auth.hashers import Argon2PasswordHasher

    calls: list[str] = []
    real_verify, real_encode = Argon2PasswordHasher.verify, Argon2PasswordHasher.encode

    def verify(self, password, encoded):  # type: ignore[no-untyped-def]
        calls.append("verify")
        return real_verify(self, password, encoded)

    def encode(self, password, salt):  # type: ignore[no-untyped-def]
        calls.append("encode")
        return real_encode(self, password, salt)

    monkeypatch.setattr(Argon2PasswordHasher, "verify", verify)
    monkeypatch.setattr(Argon2PasswordHasher, "encode", encode)
    user = verified_user()
    counts = {}
    for name, email, password in (
        ("correct", user.email, DEFAULT_PASSWORD),
        ("known_wrong", user.email, WRONG),
        ("unknown", "ghost@example.test", WRONG),
    ):
        calls.clear()
        sign_in_password(Client(), email, password)
        counts[name] = len(calls)
    assert counts == {"correct": 1, "known_wrong": 1, "unknown": 1}


def test_a_new_address_needs_verification_before_it_becomes_primary() -> None:
    user = verified_user()
    client = Client()
    sign_in_password(client, user.email)
    mail.outbox.clear()
    added = client.post("/accounts/email/", {"action_add": "", "email": "moved@example.test"})
    assert added.status_code in (200, 302)
    assert EmailAddress.objects.filter(user=user, email="moved@example.test", verified=False)
    assert User.objects.get(pk=user.pk).email == user.email
    path = link_in_last_mail(r"http://testserver(/accounts/confirm-email/[^\s]+)")
    client.post(path.replace("http://testserver", ""))
    assert EmailAddress.objects.get(user=user, email="moved@example.test").verified


@pytest.mark.parametrize(
    "path", ["/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"]
)
def test_sign_in_pages_render_in_the_portal_layout_without_inline_script(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert "CloudExpress" in html and 'name="csrfmiddlewaretoken"' in html
    assert "<script>" not in html and "style=" not in html
