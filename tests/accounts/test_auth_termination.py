"""Termination ends every credential: session, JWT access and refresh, API key."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.auth import apikeys
from accounts.models import User
from accounts.services.termination import user_terminate
from tests.accounts.auth_support import member, sign_in_password, verified_user
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def _terminate(user: User) -> None:
    # The roles work's offboarding service, run as a system job: it stamps
    # the user, ends memberships and sessions and runs every revoker.
    user_terminate(user=User.objects.get(pk=user.pk), by=None, reason="Left the company")


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
