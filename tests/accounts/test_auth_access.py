"""IP allowlists and country blocks on every way in, and rate limits (429)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client, override_settings
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from accounts.auth import apikeys, ipallow
from accounts.auth.geo import country_for_ip
from accounts.models import IpAllowlistEntry
from audit.models import SecurityEvent
from tests.accounts.auth_support import (
    member,
    sign_in_password,
    sign_in_with_mfa,
    verified_user,
)
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

INSIDE = "198.51.100.10"
OUTSIDE = "203.0.113.66"


def _setup():
    admin = verified_user()
    membership = member(admin, "member")
    organization = membership.organization
    ipallow.allowlist_entry_add(
        organization=organization, cidr="198.51.100.0/24", actor=admin, actor_ip=INSIDE
    )
    ipallow.allowlist_entry_add(
        organization=organization, cidr="2001:db8::/32", actor=admin, actor_ip=INSIDE
    )
    return admin, organization


def test_an_address_outside_the_allowlist_is_refused_on_every_way_in() -> None:
    user, organization = _setup()
    slug = organization.slug
    header = {"HTTP_X_ORGANIZATION": slug}

    page = Client(REMOTE_ADDR=INSIDE)
    sign_in_password(page, user.email, REMOTE_ADDR=INSIDE)
    url = f"/accounts/orgs/{slug}/ip-allowlist/"
    assert page.get(url, REMOTE_ADDR=INSIDE).status_code == 200
    assert page.get(url, REMOTE_ADDR="2001:db8::5").status_code == 200
    assert page.get(url, REMOTE_ADDR=OUTSIDE).status_code == 403
    # Signing in from anywhere is fine; only the organization is fenced.
    assert page.get("/api/me", REMOTE_ADDR=OUTSIDE).status_code == 200

    assert page.get("/api/me", REMOTE_ADDR=INSIDE, **header).status_code == 200
    assert page.get("/api/me", REMOTE_ADDR=OUTSIDE, **header).status_code == 403

    pair = (
        APIClient()
        .post(
            "/api/auth/token", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json"
        )
        .json()
    )
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {pair['access']}", **header}
    assert APIClient().get("/api/me", REMOTE_ADDR=INSIDE, **bearer).status_code == 200
    assert APIClient().get("/api/me", REMOTE_ADDR=OUTSIDE, **bearer).status_code == 403

    key = apikeys.api_key_create(
        user=user, organization=organization, name="ci", scopes=[], created_by=user
    )
    api_key = {"HTTP_AUTHORIZATION": f"ApiKey {key.raw}"}
    assert APIClient().get("/api/me", REMOTE_ADDR=INSIDE, **api_key).status_code == 200
    assert APIClient().get("/api/me", REMOTE_ADDR=OUTSIDE, **api_key).status_code == 403

    channels = set(
        SecurityEvent.objects.filter(event_type=SecurityEvent.Type.IP_DENIED).values_list(
            "detail__channel", flat=True
        )
    )
    assert channels == {"page", "session", "jwt", "api_key"}


def test_a_member_of_two_organizations_reaches_each_only_from_its_ranges() -> None:
    user, fenced = _setup()
    open_org = member(user).organization
    client = Client()
    sign_in_password(client, user.email, REMOTE_ADDR=OUTSIDE)
    assert (
        client.get("/api/me", REMOTE_ADDR=OUTSIDE, HTTP_X_ORGANIZATION=open_org.slug).status_code
        == 200
    )
    assert (
        client.get("/api/me", REMOTE_ADDR=OUTSIDE, HTTP_X_ORGANIZATION=fenced.slug).status_code
        == 403
    )


def test_an_admin_cannot_lock_themselves_out_without_confirming() -> None:
    admin = verified_user()
    organization = member(admin, "admin").organization
    client = Client(REMOTE_ADDR=INSIDE)
    sign_in_with_mfa(client, admin)
    url = f"/accounts/orgs/{organization.slug}/ip-allowlist/"
    refused = client.post(url, {"cidr": "192.0.2.0/24"}, REMOTE_ADDR=INSIDE)
    assert refused.status_code == 400 and b"confirm" in refused.content
    assert not IpAllowlistEntry.objects.filter(organization=organization).exists()
    inside = client.post(url, {"cidr": "198.51.100.0/24"}, REMOTE_ADDR=INSIDE)
    assert inside.status_code == 302
    confirmed = client.post(url, {"cidr": "192.0.2.0/24", "confirm": "yes"}, REMOTE_ADDR=INSIDE)
    assert confirmed.status_code == 302
    assert IpAllowlistEntry.objects.filter(organization=organization).count() == 2


def test_country_block_reads_the_database_file_that_overrides_the_shipped_one(
    tmp_path: Path,
) -> None:
    database = tmp_path / "countries.csv"
    database.write_text("198.51.100.0,198.51.100.255,ZZ\n2001:db8::,2001:db8::ffff,YY\n")
    user = verified_user()
    organization = member(user).organization
    ipallow.access_policy_set_blocked_countries(
        organization=organization, countries=["zz"], actor=user
    )
    client = Client()
    sign_in_password(client, user.email)
    header = {"HTTP_X_ORGANIZATION": organization.slug}
    assert client.get("/api/me", REMOTE_ADDR=INSIDE, **header).status_code == 200
    with override_settings(GEOIP_DATABASE_PATH=str(database)):
        assert country_for_ip(INSIDE) == "ZZ" and country_for_ip("2001:db8::1") == "YY"
        assert country_for_ip(OUTSIDE) is None
        assert client.get("/api/me", REMOTE_ADDR=OUTSIDE, **header).status_code == 200
        assert client.get("/api/me", REMOTE_ADDR=INSIDE, **header).status_code == 403
    assert SecurityEvent.objects.filter(
        event_type=SecurityEvent.Type.IP_DENIED, detail__reason="country"
    ).exists()


def test_api_throttle_answers_429_with_retry_after_and_records_it() -> None:
    user = verified_user()
    client = Client()
    sign_in_password(client, user.email)
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "user_endpoint": "3/min"}
    with override_settings(REST_FRAMEWORK={**_rest_framework(), "DEFAULT_THROTTLE_RATES": rates}):
        answers = [client.get("/api/me").status_code for _ in range(3)]
        assert answers == [200, 200, 200]
        throttled = client.get("/api/me")
        # Another endpoint has its own budget.
        assert client.get("/api/compliance/security/policy").status_code == 200
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert throttled.json()["code"] == "throttled"
    assert SecurityEvent.objects.filter(
        event_type=SecurityEvent.Type.THROTTLED, target_user=user
    ).exists()


def test_sign_in_page_is_limited_per_address_with_retry_after() -> None:
    from allauth.account import app_settings as account_settings

    limits = {**account_settings.RATE_LIMITS, "login": "3/m/ip"}
    with override_settings(ACCOUNT_RATE_LIMITS=limits):
        user = verified_user()
        assert sign_in_password(Client(), user.email, REMOTE_ADDR="192.0.2.80").status_code == 302
        for _ in range(2):
            sign_in_password(Client(), user.email, "Wrong-1!", REMOTE_ADDR="192.0.2.80")
        limited = sign_in_password(Client(), user.email, REMOTE_ADDR="192.0.2.80")
        other = sign_in_password(Client(), user.email, REMOTE_ADDR="192.0.2.81")
    assert limited.status_code == 429 and limited["Retry-After"] == "60"
    assert other.status_code == 302
    assert SecurityEvent.objects.filter(
        event_type=SecurityEvent.Type.THROTTLED, detail__scope="page"
    ).exists()


def _rest_framework() -> dict:
    from django.conf import settings

    return dict(settings.REST_FRAMEWORK)


def test_a_flood_of_throttled_requests_records_one_event_a_minute() -> None:
    user = verified_user()
    client = Client()
    sign_in_password(client, user.email)
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "user_endpoint": "2/min"}
    with override_settings(REST_FRAMEWORK={**_rest_framework(), "DEFAULT_THROTTLE_RATES": rates}):
        answers = [client.get("/api/me").status_code for _ in range(12)]
    assert answers[:2] == [200, 200] and set(answers[2:]) == {429}
    assert SecurityEvent.objects.filter(event_type=SecurityEvent.Type.THROTTLED).count() == 1
