"""Termination ends every credential: session, JWT access and refresh, API key."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.auth import apikeys
from accounts.models import User
from accounts.termination import revokers_run
from tests.accounts.auth_support import member, sign_in_password, verified_user
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def _terminate(user: User) -> None:
    # TODO(roles): call the roles work's user_terminate once it is merged;
    # until then this does what it will: stamp the user, then run revokers.
    # is_active stays True here so the test proves the revokers and the
    # terminated_at checks, not only Django's is_active.
    User.objects.filter(pk=user.pk).update(terminated_at=timezone.now())
    revokers_run(User.objects.get(pk=user.pk))


def test_terminated_user_session_jwt_refresh_and_api_key_are_refused() -> None:
    user = verified_user()
    membership = member(user)
    browser = Client()
    assert sign_in_password(browser, user.email).status_code == 302
    pair = (
        APIClient()
        .post(
            "/api/auth/token", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json"
        )
        .json()
    )
    key = apikeys.api_key_create(
        user=user,
        organization=membership.organization,
        name="ci",
        scopes=["controls.view"],
        created_by=user,
    )

    def refresh(raw: str):
        return APIClient().post("/api/auth/token/refresh", {"refresh": raw}, format="json")

    bearer = {"HTTP_AUTHORIZATION": f"Bearer {pair['access']}"}
    api_key = {"HTTP_AUTHORIZATION": f"ApiKey {key.raw}"}
    assert browser.get("/api/me").status_code == 200
    assert APIClient().get("/api/me", **bearer).status_code == 200
    assert APIClient().get("/api/me", **api_key).status_code == 200
    rotated = refresh(pair["refresh"])
    assert rotated.status_code == 200

    _terminate(user)

    assert browser.get("/api/me").status_code == 401
    assert APIClient().get("/api/me", **bearer).status_code == 401
    assert refresh(rotated.json()["refresh"]).status_code == 401
    assert APIClient().get("/api/me", **api_key).status_code == 401
