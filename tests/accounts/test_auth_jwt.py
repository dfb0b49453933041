"""JWT: rotation, families, reuse, concurrent refresh, version and membership."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.auth import jwt
from accounts.models import RefreshRecord, TokenFamily, User
from audit.models import SecurityEvent
from tests.accounts.auth_support import member, verified_user
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def _pair(user: User) -> dict[str, str]:
    response = APIClient().post(
        "/api/auth/token", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def _me(access: str, **headers: str) -> int:
    return APIClient().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {access}", **headers).status_code


def _refresh(raw: str):
    return APIClient().post("/api/auth/token/refresh", {"refresh": raw}, format="json")


def test_access_token_works_and_expires_quickly() -> None:
    pair = _pair(verified_user())
    assert _me(pair["access"]) == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=6), tick=False):
        assert _me(pair["access"]) == 401


def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_family() -> None:
    user = verified_user()
    first = _pair(user)
    second = _refresh(first["refresh"])
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh"] != first["refresh"]
    assert _me(rotated["access"]) == 200

    reuse = _refresh(first["refresh"])
    assert reuse.status_code == 401 and reuse.json()["code"] == "token_reused"
    family = TokenFamily.objects.get(user=user)
    assert family.revoked_reason == TokenFamily.RevokedReason.REUSE
    # The newest tokens of the family die with it.
    assert _refresh(rotated["refresh"]).status_code == 401
    assert _me(rotated["access"]) == 401
    assert SecurityEvent.objects.filter(
        event_type=SecurityEvent.Type.TOKEN_REUSED, target_user=user
    ).exists()
    # Another sign-in starts a fresh family.
    assert _me(_pair(user)["access"]) == 200


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_refreshes_of_one_token_give_exactly_one_success() -> None:
    user = verified_user()
    raw = _pair(user)["refresh"]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            try:
                jwt.token_refresh(raw=raw)
                outcome = "ok"
            except jwt.RefreshRefusedError as exc:
                outcome = exc.code
            with lock:
                outcomes.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["ok", "token_reused"]
    assert RefreshRecord.objects.filter(family__user=user).count() == 2


def test_password_change_refuses_access_and_refresh_tokens_at_once() -> None:
    user = verified_user()
    pair = _pair(user)
    assert _me(pair["access"]) == 200
    user.set_password("Another-Pass-99!")
    user.save()
    assert _me(pair["access"]) == 401
    assert _refresh(pair["refresh"]).status_code == 401


def test_version_claim_is_checked_on_every_request() -> None:
    user = verified_user()
    pair = _pair(user)
    assert _me(pair["access"]) == 200
    User.objects.filter(pk=user.pk).update(credentials_version=user.credentials_version + 1)
    assert _me(pair["access"]) == 401


def test_sign_out_revokes_the_family() -> None:
    pair = _pair(verified_user())
    assert _me(pair["access"]) == 200
    revoked = APIClient().post(
        "/api/auth/token/revoke", {"refresh": pair["refresh"]}, format="json"
    )
    assert revoked.status_code == 204
    assert _me(pair["access"]) == 401
    assert _refresh(pair["refresh"]).status_code == 401


def test_membership_is_checked_on_every_request_in_the_organization_named() -> None:
    user = verified_user()
    membership = member(user)
    slug = membership.organization.slug
    pair = _pair(user)
    assert _me(pair["access"], HTTP_X_ORGANIZATION=slug) == 200
    membership.status = membership.Status.SUSPENDED
    membership.save()
    assert _me(pair["access"], HTTP_X_ORGANIZATION=slug) == 403
    assert _me(pair["access"], HTTP_X_ORGANIZATION="no-such-org") == 403


def test_unverified_address_gets_no_token() -> None:
    from tests import factories

    user = factories.UserFactory()
    response = APIClient().post(
        "/api/auth/token", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json"
    )
    assert response.status_code == 403 and response.json()["code"] == "email_unverified"


def test_refusals_answer_401_with_a_bearer_challenge() -> None:
    response = APIClient().get("/api/me", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
