"""API keys: shown once, hashed, scoped, rotation overlap, throttled touch."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.auth import apikeys
from accounts.models import ApiKey
from tests.accounts.auth_support import (
    member,
    sign_in_password,
    sign_in_with_mfa,
    verified_user,
)

pytestmark = pytest.mark.django_db


def _me(raw: str, **extra: str) -> int:
    return APIClient().get("/api/me", HTTP_AUTHORIZATION=f"ApiKey {raw}", **extra).status_code


def _issue(user=None, **kwargs):
    user = user or verified_user()
    membership = member(user)
    return apikeys.api_key_create(
        user=user,
        organization=membership.organization,
        name="ci",
        scopes=["controls.view"],
        created_by=user,
        **kwargs,
    )


def test_member_creates_a_key_for_themselves_seen_once_and_stored_hashed() -> None:
    user = verified_user()
    membership = member(user)
    client = Client()
    sign_in_password(client, user.email)
    created = client.post(
        "/api/auth/api-keys",
        {
            "name": "laptop",
            "organization": membership.organization.slug,
            "scopes": ["controls.view"],
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    raw = created.json()["key"]
    assert raw.startswith(f"cx_{created.json()['prefix']}_")
    stored = ApiKey.objects.get(user=user)
    assert stored.secret_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in str(ApiKey.objects.filter(pk=stored.pk).values().get())
    listed = client.get("/api/auth/api-keys").json()
    assert "key" not in listed[0] and listed[0]["prefix"] == stored.prefix
    assert _me(raw) == 200


def test_unknown_scope_and_wrong_or_expired_keys_are_refused() -> None:
    issued = _issue(expires_at=timezone.now() + timedelta(days=1))
    assert _me(issued.raw) == 200
    assert _me(issued.raw[:-1] + ("A" if issued.raw[-1] != "A" else "B")) == 401
    with time_machine.travel(timezone.now() + timedelta(days=2), tick=False):
        assert _me(issued.raw) == 401
    with pytest.raises(apikeys.ApiKeyError):
        apikeys.api_key_create(
            user=issued.key.user,
            organization=issued.key.organization,
            name="x",
            scopes=["no.such.permission"],
            created_by=issued.key.user,
        )


def test_rotation_keeps_the_old_key_for_the_chosen_overlap_only() -> None:
    issued = _issue()
    assert _me(issued.raw) == 200
    successor = apikeys.api_key_rotate(
        key=issued.key, actor=issued.key.user, overlap=timedelta(minutes=30)
    )
    assert _me(successor.raw) == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=29), tick=False):
        assert _me(issued.raw) == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=31), tick=False):
        assert _me(issued.raw) == 401
        assert _me(successor.raw) == 200
    with pytest.raises(apikeys.ApiKeyError):
        apikeys.api_key_rotate(key=issued.key, actor=issued.key.user, overlap=timedelta(0))


def test_last_use_is_written_at_most_once_a_minute() -> None:
    issued = _issue()
    assert _me(issued.raw, REMOTE_ADDR="192.0.2.1") == 200
    key = ApiKey.objects.get(pk=issued.key.pk)
    assert key.last_used_ip == "192.0.2.1"
    first_use = key.last_used_at

    with CaptureQueriesContext(connection) as queries:
        assert _me(issued.raw, REMOTE_ADDR="192.0.2.2") == 200
    assert not any(q["sql"].startswith("UPDATE") for q in queries.captured_queries)
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first_use

    with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=False):
        assert _me(issued.raw, REMOTE_ADDR="192.0.2.3") == 200
    key.refresh_from_db()
    assert key.last_used_ip == "192.0.2.3" and key.last_used_at > first_use
    # A stale in-memory copy cannot write twice: the UPDATE is conditional.
    stale = ApiKey.objects.get(pk=key.pk)
    stale.last_used_at = None
    assert apikeys.api_key_touch(key=stale, ip="192.0.2.4") is False


def test_key_for_one_organization_cannot_act_in_another() -> None:
    issued = _issue()
    other = member(issued.key.user).organization
    assert _me(issued.raw, HTTP_X_ORGANIZATION=issued.key.organization.slug) == 200
    assert _me(issued.raw, HTTP_X_ORGANIZATION=other.slug) == 403


def test_scopes_are_what_the_key_allows() -> None:
    issued = _issue()
    assert apikeys.api_key_allows(issued.key, "controls.view")
    assert not apikeys.api_key_allows(issued.key, "members.manage")


def test_a_key_reaches_only_views_its_scopes_allow() -> None:
    user = verified_user()
    organization = member(user).organization
    allowed = apikeys.api_key_create(
        user=user, organization=organization, name="a", scopes=["controls.view"], created_by=user
    )
    narrow = apikeys.api_key_create(
        user=user, organization=organization, name="b", scopes=["evidence.view"], created_by=user
    )
    url = "/api/compliance/security/policy"
    assert APIClient().get(url, HTTP_AUTHORIZATION=f"ApiKey {allowed.raw}").status_code == 200
    assert APIClient().get(url, HTTP_AUTHORIZATION=f"ApiKey {narrow.raw}").status_code == 403
    # A key cannot mint keys, whatever its scopes.
    minted = APIClient().post(
        "/api/auth/api-keys",
        {"name": "x", "organization": organization.slug, "scopes": []},
        format="json",
        HTTP_AUTHORIZATION=f"ApiKey {allowed.raw}",
    )
    assert minted.status_code == 403


def test_an_admin_creates_a_service_key_that_acts_as_its_own_account() -> None:
    admin = verified_user()
    organization = member(admin, "admin").organization
    client = Client()
    sign_in_with_mfa(client, admin)
    created = client.post(
        "/api/auth/service-keys",
        {"name": "backup job", "organization": organization.slug, "scopes": ["controls.view"]},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    raw = created.json()["key"]
    me = APIClient().get("/api/me", HTTP_AUTHORIZATION=f"ApiKey {raw}")
    assert me.status_code == 200
    assert me.json()["email"].endswith("@service.invalid")
    key = ApiKey.objects.get(prefix=created.json()["prefix"])
    assert key.kind == ApiKey.Kind.SERVICE and key.created_by == admin

    plain = verified_user()
    member(plain, "member", organization)
    client.force_login(plain)
    refused = client.post(
        "/api/auth/service-keys",
        {"name": "x", "organization": organization.slug, "scopes": []},
        content_type="application/json",
    )
    assert refused.status_code == 403
