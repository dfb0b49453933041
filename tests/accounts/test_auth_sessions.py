"""Sessions: idle timeout, absolute lifetime, key rotation, list and revoke."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.auth import sessions
from accounts.models import UserSession
from audit.models import SecurityEvent
from tests.accounts.auth_support import sign_in_password, verified_user

pytestmark = pytest.mark.django_db


def test_idle_session_is_signed_out_after_the_idle_timeout() -> None:
    user = verified_user()
    client = Client()
    sign_in_password(client, user.email)
    with time_machine.travel(timezone.now() + timedelta(minutes=29), tick=False):
        assert client.get("/api/me").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=58), tick=False):
        # 29 minutes after the last request: still inside the idle window.
        assert client.get("/api/me").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=58 + 31), tick=False):
        assert client.get("/api/me").status_code == 401
    assert SecurityEvent.objects.filter(
        event_type=SecurityEvent.Type.SIGNED_OUT, detail__reason="session_idle"
    ).exists()


def test_absolute_lifetime_ends_even_an_active_session() -> None:
    user = verified_user()
    client = Client()
    sign_in_password(client, user.email)
    start = timezone.now()
    for minutes in range(20, 12 * 60, 20):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            assert client.get("/api/me").status_code == 200
    with time_machine.travel(start + timedelta(hours=12, minutes=5), tick=False):
        assert client.get("/api/me").status_code == 401


def test_sign_in_rotates_the_session_key() -> None:
    user = verified_user()
    client = Client()
    anonymous = client.session
    anonymous["probe"] = 1
    anonymous.save()
    client.cookies["sessionid"] = anonymous.session_key
    before = anonymous.session_key
    sign_in_password(client, user.email)
    assert client.cookies["sessionid"].value != before
    assert not UserSession.objects.filter(session_key=before).exists()
    assert UserSession.objects.filter(session_key=client.cookies["sessionid"].value, user=user)


def test_sessions_page_lists_own_sessions_in_constant_queries_and_revokes_one() -> None:
    user = verified_user()
    # Browsers send their agent on every request; the row keeps the latest.
    mine = Client(HTTP_USER_AGENT="Firefox on Linux")
    other = Client(HTTP_USER_AGENT="Safari on iPhone", REMOTE_ADDR="192.0.2.7")
    sign_in_password(mine, user.email)
    sign_in_password(other, user.email)
    stranger = Client()
    sign_in_password(stranger, verified_user().email, HTTP_USER_AGENT="Stranger Browser")

    mine.get("/accounts/sessions/")
    with CaptureQueriesContext(connection) as few:
        page = mine.get("/accounts/sessions/")
    html = page.content.decode()
    assert "Firefox on Linux" in html and "Safari on iPhone" in html and "192.0.2.7" in html
    assert "Stranger Browser" not in html
    for _ in range(3):
        sign_in_password(Client(), user.email)
    with CaptureQueriesContext(connection) as many:
        mine.get("/accounts/sessions/")
    assert len(many.captured_queries) == len(few.captured_queries)

    assert other.get("/api/me").status_code == 200
    key = other.session.session_key
    response = mine.post(f"/accounts/sessions/{sessions.session_handle(key)}/revoke")
    assert response.status_code == 302
    assert other.get("/api/me").status_code == 401
    assert mine.get("/api/me").status_code == 200
    # Someone else's handle is ignored.
    stranger_key = stranger.session.session_key
    mine.post(f"/accounts/sessions/{sessions.session_handle(stranger_key)}/revoke")
    assert stranger.get("/api/me").status_code == 200


def test_admin_revokes_every_session_of_a_user() -> None:
    user = verified_user()
    clients = [Client() for _ in range(3)]
    for client in clients:
        sign_in_password(client, user.email)
        assert client.get("/api/me").status_code == 200
    assert sessions.sessions_revoke_all(user=user, actor=verified_user()) == 3
    assert all(client.get("/api/me").status_code == 401 for client in clients)
    assert not UserSession.objects.filter(user=user).exists()


def test_admin_action_signs_a_user_out_everywhere() -> None:
    from accounts.auth import mfa
    from tests.accounts.access_helpers import member, organization
    from tests.accounts.auth_support import enrolled_device

    # Admin permissions come from a role in the operator organization (the
    # superuser flag alone grants nothing since the authorization merge).
    staff = verified_user(is_staff=True)
    member(organization(is_operator=True, slug="cloudexpress"), "admin", user=staff)
    _, totp = enrolled_device(staff)
    admin_client = Client()
    sign_in_password(admin_client, staff.email)
    assert admin_client.post("/accounts/2fa/", {"code": totp.now()}).status_code == 302
    assert admin_client.get("/admin/accounts/usersession/").status_code == 200

    target = verified_user()
    browser = Client()
    sign_in_password(browser, target.email)
    assert browser.get("/api/me").status_code == 200
    row = UserSession.objects.get(user=target)
    response = admin_client.post(
        "/admin/accounts/usersession/",
        {"action": "sign_out_users_everywhere", "_selected_action": [row.pk]},
    )
    assert response.status_code == 302
    assert browser.get("/api/me").status_code == 401
    assert mfa.mfa_enabled_for(staff)
