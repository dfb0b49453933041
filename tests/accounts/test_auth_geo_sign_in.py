"""Country refusal at sign-in, from the offline database the iptocc package
ships (or a file that overrides it): on the page, at the JWT endpoint and in
admin; for a member of several organizations only when every one refuses
the country, and still per organization when acting in it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from accounts.auth import ipallow
from accounts.auth.geo import country_for_ip, geo_source
from accounts.models import Organization, User
from audit.detection.scoring import event_features
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

# Registry allocations that do not move: RIPE NCC's own block (NL) and an
# APNIC block (JP), as the pinned iptocc release records them.
NETHERLANDS = "193.0.6.139"
JAPAN = "1.0.16.1"


def _refuse(organization: Organization, *countries: str) -> None:
    actor = verified_user()
    ipallow.access_policy_set_blocked_countries(
        organization=organization, countries=list(countries), actor=actor
    )


def _token(user: User, ip: str):
    return APIClient().post(
        "/api/auth/token",
        {"email": user.email, "password": DEFAULT_PASSWORD},
        format="json",
        REMOTE_ADDR=ip,
    )


def test_the_lookup_is_offline_and_a_file_overrides_the_shipped_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the country lookup tried the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert geo_source() == "iptocc"
    assert country_for_ip(NETHERLANDS) == "NL"
    assert country_for_ip(JAPAN) == "JP"
    assert country_for_ip("2001:200::1") == "JP"
    for unknown in ("10.0.0.5", "127.0.0.1", "::1", "198.51.100.7", "not an address", ""):
        assert country_for_ip(unknown) is None

    database = tmp_path / "countries.csv"
    database.write_text("# operator's own database\n193.0.0.0,193.0.7.255,ZZ\n")
    with override_settings(GEOIP_DATABASE_PATH=str(database)):
        assert geo_source() == "file"
        assert country_for_ip(NETHERLANDS) == "ZZ"
        assert country_for_ip(JAPAN) is None  # the file alone answers


def test_sign_in_from_a_refused_country_is_refused_on_the_page_with_a_clear_message() -> None:
    user = verified_user()
    _refuse(member(user).organization, "NL")
    allowed = Client()
    assert sign_in_password(allowed, user.email, REMOTE_ADDR=JAPAN).status_code == 302
    assert signed_in_user_id(allowed) == user.pk

    refused_client = Client()
    refused = sign_in_password(refused_client, user.email, REMOTE_ADDR=NETHERLANDS)

    assert refused.status_code == 403
    body = refused.content.decode()
    assert "Sign-in refused" in body and "(NL)" in body
    assert signed_in_user_id(refused_client) is None
    assert refused_client.get("/accounts/sessions/").status_code == 302
    event = SecurityEvent.objects.get(
        event_type=SecurityEvent.Type.IP_DENIED, detail__stage="sign_in"
    )
    assert event.target_user_id == user.pk and event.ip == NETHERLANDS
    assert event.detail == {
        "channel": "web",
        "reason": "country",
        "stage": "sign_in",
        "country": "NL",
        "organizations": 1,
    }
    # The password was right: a country refusal is not a failure for axes.
    assert not SecurityEvent.objects.filter(event_type=SecurityEvent.Type.SIGN_IN_FAILED).exists()


def test_the_jwt_endpoint_refuses_the_same_country() -> None:
    user = verified_user()
    _refuse(member(user).organization, "NL")
    assert _token(user, JAPAN).status_code == 200
    refused = _token(user, NETHERLANDS)
    assert refused.status_code == 403
    assert refused.json()["code"] == "country_refused"
    assert "(NL)" in refused.json()["detail"]


def test_the_admin_sign_in_refuses_the_same_country() -> None:
    staff = verified_user(is_staff=True, is_superuser=True)
    _refuse(member(staff).organization, "NL")
    device, totp = enrolled_device(staff)

    def admin_sign_in(ip: str):
        return Client().post(
            "/admin/login/?next=/admin/",
            {
                "username": staff.email,
                "password": DEFAULT_PASSWORD,
                "otp_device": device.persistent_id,
                "otp_token": totp.now(),
            },
            REMOTE_ADDR=ip,
        )

    assert admin_sign_in(JAPAN).status_code == 302
    refused = admin_sign_in(NETHERLANDS)
    assert refused.status_code == 200  # the form again, with the reason
    assert "(NL)" in refused.content.decode()
    assert SecurityEvent.objects.filter(detail__channel="admin", detail__stage="sign_in").exists()


def test_a_member_of_several_organizations_is_refused_only_when_every_one_refuses() -> None:
    user = verified_user()
    strict = member(user).organization
    open_org = member(user).organization
    _refuse(strict, "NL")

    client = Client()
    assert sign_in_password(client, user.email, REMOTE_ADDR=NETHERLANDS).status_code == 302
    # Signed in, but acting in the organization that refuses the country is
    # refused, per organization.
    me = "/api/me"
    assert (
        client.get(me, REMOTE_ADDR=NETHERLANDS, HTTP_X_ORGANIZATION=open_org.slug).status_code
        == 200
    )
    assert (
        client.get(me, REMOTE_ADDR=NETHERLANDS, HTTP_X_ORGANIZATION=strict.slug).status_code == 403
    )

    _refuse(open_org, "NL", "FR")
    assert sign_in_password(Client(), user.email, REMOTE_ADDR=NETHERLANDS).status_code == 403
    assert sign_in_password(Client(), user.email, REMOTE_ADDR=JAPAN).status_code == 302


def test_an_unknown_country_or_no_organization_is_not_refused() -> None:
    user = verified_user()
    _refuse(member(user).organization, "NL")
    assert sign_in_password(Client(), user.email, REMOTE_ADDR="10.0.0.5").status_code == 302
    loner = verified_user()
    assert sign_in_password(Client(), loner.email, REMOTE_ADDR=NETHERLANDS).status_code == 302


def test_the_anomaly_model_reads_the_country_of_the_same_lookup() -> None:
    user = verified_user()
    member(user)
    assert sign_in_password(Client(), user.email, REMOTE_ADDR=NETHERLANDS).status_code == 302
    event = SecurityEvent.objects.get(
        event_type=SecurityEvent.Type.SIGN_IN_SUCCEEDED, target_user=user
    )
    assert event.detail["country"] == country_for_ip(NETHERLANDS) == "NL"
    features = event_features(
        ip=event.ip,
        user_agent=event.user_agent,
        occurred_at=event.occurred_at,
        detail=event.detail,
    )
    assert features["country"] == "NL"


def test_an_admin_sets_the_refused_countries_on_the_organization_page() -> None:
    from tests.accounts.auth_support import sign_in_with_mfa

    admin = verified_user()
    organization = member(admin, "admin").organization
    person = verified_user()
    member(person, "member", organization)
    url = f"/accounts/orgs/{organization.slug}/ip-allowlist/"
    assert sign_in_password(Client(), person.email, REMOTE_ADDR=NETHERLANDS).status_code == 302

    client = Client(REMOTE_ADDR=JAPAN)
    sign_in_with_mfa(client, admin)
    invalid = client.post(url, {"action": "countries", "countries": "NL, France"})
    assert invalid.status_code == 400 and b"two-letter" in invalid.content
    # Refusing one's own current country needs a confirmation.
    own = client.post(url, {"action": "countries", "countries": "jp"})
    assert own.status_code == 400 and b"confirm" in own.content
    assert ipallow.blocked_countries(organization.pk) == []
    saved = client.post(url, {"action": "countries", "countries": "nl, fr"})
    assert saved.status_code == 302
    assert ipallow.blocked_countries(organization.pk) == ["FR", "NL"]
    assert "<code>FR</code>, <code>NL</code>" in client.get(url).content.decode()

    assert sign_in_password(Client(), person.email, REMOTE_ADDR=NETHERLANDS).status_code == 403

    # A plain member sees the list but cannot change it.
    plain = Client(REMOTE_ADDR=JAPAN)
    assert sign_in_password(plain, person.email, REMOTE_ADDR=JAPAN).status_code == 302
    assert plain.get(url).status_code == 200
    assert plain.post(url, {"action": "countries", "countries": ""}).status_code == 403
    assert ipallow.blocked_countries(organization.pk) == ["FR", "NL"]
