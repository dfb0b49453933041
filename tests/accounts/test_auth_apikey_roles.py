"""API keys never grant more than their owner's current role, act in one
organization only, reach only views that declare a permission; service keys
hold at most what their creating admin holds; closing an organization ends
every member's access to it."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.test import Client
from rest_framework.test import APIClient

from accounts.auth import apikeys
from accounts.models import ApiKey, Membership, Organization, Role, User
from accounts.services import organization_close
from audit.models import SecurityEvent
from cloudexpress.api.exceptions import ServiceError
from tests import factories
from tests.accounts.auth_support import member, sign_in_password, sign_in_with_mfa, verified_user
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def _key_get(raw: str, url: str) -> int:
    return APIClient().get(url, HTTP_AUTHORIZATION=f"ApiKey {raw}").status_code


def _key(user: User, organization: Organization, *scopes: str) -> str:
    return apikeys.api_key_create(
        user=user, organization=organization, name="ci", scopes=list(scopes), created_by=user
    ).raw


def test_a_key_loses_a_permission_the_moment_its_owners_role_is_downgraded() -> None:
    admin = verified_user()
    membership = member(admin, "admin")
    organization = membership.organization
    raw = _key(admin, organization, "members.invite", "org.view")
    invitations = f"/api/orgs/{organization.slug}/invitations"
    members = f"/api/orgs/{organization.slug}/members"
    assert _key_get(raw, invitations) == 200
    assert _key_get(raw, members) == 200

    # Downgraded to Member after the key was made: the scope stays on the
    # key, the role no longer holds it, so the key loses it on the next call.
    Membership.objects.filter(pk=membership.pk).update(role=factories.builtin_role("member"))

    assert _key_get(raw, invitations) == 403
    assert _key_get(raw, members) == 200  # org.view: still in the Member role
    refusal = SecurityEvent.objects.filter(
        event_type=SecurityEvent.Type.PERMISSION_DENIED, target_user=admin
    ).latest("id")
    assert refusal.detail == {
        "channel": "api_key",
        "reason": "scope",
        "required": "members.invite",
    }


def test_a_key_is_limited_by_its_scopes_even_where_the_role_allows_more() -> None:
    admin = verified_user()
    organization = member(admin, "admin").organization
    wide = _key(admin, organization, "members.invite")
    narrow = _key(admin, organization, "org.view")
    url = f"/api/orgs/{organization.slug}/invitations"
    assert _key_get(wide, url) == 200
    assert _key_get(narrow, url) == 403


def test_a_key_is_refused_on_a_view_that_declares_no_permission() -> None:
    # The retention API checks the role with its own class and names no
    # permission for keys: a session passes, a key with the scope does not.
    operator = Organization.objects.create(name="CloudExpress", slug="cx-op", is_operator=True)
    user = verified_user()
    member(user, "auditor", operator)
    raw = _key(user, operator, "retention.view", "org.view")
    url = "/api/compliance/retention/policy"
    session = Client()
    sign_in_with_mfa(session, user)
    assert session.get(url).status_code == 200
    assert _key_get(raw, "/api/me") == 200

    response = APIClient().get(url, HTTP_AUTHORIZATION=f"ApiKey {raw}")

    assert response.status_code == 403
    assert response.json()["detail"] == "This endpoint does not accept API keys."
    assert SecurityEvent.objects.filter(
        event_type=SecurityEvent.Type.PERMISSION_DENIED, detail__reason="undeclared_view"
    ).exists()


def test_a_key_of_one_organization_cannot_act_in_another() -> None:
    user = verified_user()
    home = member(user, "admin").organization
    other = member(user, "admin").organization
    raw = _key(user, home, "org.view")
    assert _key_get(raw, f"/api/orgs/{home.slug}/members") == 200
    assert _key_get(raw, f"/api/orgs/{other.slug}/members") == 403


def test_an_admin_gives_a_service_key_only_scopes_they_hold() -> None:
    admin = verified_user()
    organization = member(admin, "admin").organization
    client = Client()
    sign_in_with_mfa(client, admin)

    def create(*scopes: str):
        return client.post(
            "/api/auth/service-keys",
            {"name": "backup job", "organization": organization.slug, "scopes": list(scopes)},
            content_type="application/json",
        )

    created = create("controls.view", "members.invite")
    assert created.status_code == 201, created.content
    raw = created.json()["key"]
    assert _key_get(raw, f"/api/orgs/{organization.slug}/invitations") == 200
    assert _key_get(raw, "/api/compliance/security/policy") == 200
    service = ApiKey.objects.get(prefix=created.json()["prefix"]).user
    role = Membership.objects.get(user=service, organization=organization).role
    assert role.kind == Role.Kind.CUSTOM
    assert set(role.permissions.values_list("code", flat=True)) == {
        "controls.view",
        "members.invite",
    }

    # No built-in Admin holds ingest: the admin cannot hand it to a service.
    before = ApiKey.objects.count()
    refused = create("controls.view", "security_events.ingest")
    assert refused.status_code == 403
    assert "security_events.ingest" in refused.json()["detail"]
    assert ApiKey.objects.count() == before

    # Narrowing the service's role narrows its key at once.
    role.permissions.remove(role.permissions.get(code="members.invite"))
    assert _key_get(raw, f"/api/orgs/{organization.slug}/invitations") == 403


def test_a_member_without_api_keys_manage_cannot_create_a_service_key() -> None:
    plain = verified_user()
    organization = member(plain, "member").organization
    client = Client()
    assert sign_in_password(client, plain.email).status_code == 302
    refused = client.post(
        "/api/auth/service-keys",
        {"name": "x", "organization": organization.slug, "scopes": ["controls.view"]},
        content_type="application/json",
    )
    assert refused.status_code == 403
    assert not ApiKey.objects.filter(kind=ApiKey.Kind.SERVICE).exists()


def test_closing_an_organization_ends_every_members_access_to_it() -> None:
    owner = verified_user()
    closing = member(owner, "owner").organization
    # One member only here, one also in another organization.
    only_here = verified_user()
    member(only_here, "member", closing)
    elsewhere = verified_user()
    member(elsewhere, "member", closing)
    kept = member(elsewhere, "member").organization

    browser = Client()
    assert sign_in_password(browser, only_here.email).status_code == 302
    token = (
        APIClient()
        .post(
            "/api/auth/token",
            {"email": only_here.email, "password": DEFAULT_PASSWORD},
            format="json",
        )
        .json()["access"]
    )
    closing_key = _key(elsewhere, closing, "org.view")
    kept_key = _key(elsewhere, kept, "org.view")
    other_browser = Client()
    assert sign_in_password(other_browser, elsewhere.email).status_code == 302
    assert browser.get("/api/me").status_code == 200
    assert APIClient().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    assert _key_get(closing_key, f"/api/orgs/{closing.slug}/members") == 200

    ended = organization_close(organization=closing, by=owner, reason="Customer left")

    assert ended == 3
    assert not Membership.objects.filter(
        organization=closing, status=Membership.Status.ACTIVE
    ).exists()
    assert browser.get("/api/me").status_code == 401
    assert APIClient().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    assert _key_get(closing_key, f"/api/orgs/{closing.slug}/members") == 401
    # The member of another organization keeps it, and their session.
    assert _key_get(kept_key, f"/api/orgs/{kept.slug}/members") == 200
    assert other_browser.get("/api/me").status_code == 200
    assert SecurityEvent.objects.filter(
        event_type="organization.closed", organization=closing
    ).exists()


def test_only_an_owner_or_the_operator_closes_an_organization() -> None:
    admin = verified_user()
    organization = member(admin, "admin").organization
    with pytest.raises(ServiceError) as refused:
        organization_close(organization=organization, by=admin, reason="Tidy up")
    assert refused.value.status_code == 403
    assert Membership.objects.filter(
        organization=organization, status=Membership.Status.ACTIVE
    ).exists()


def test_the_admin_close_action_ends_access_and_deletes_no_row() -> None:
    from tests.accounts.access_helpers import member as operator_member
    from tests.accounts.access_helpers import organization as make_organization

    operator = make_organization(is_operator=True, slug="cloudexpress")
    officer = operator_member(operator, "admin").user
    officer.is_staff = True
    officer.save(update_fields=["is_staff"])
    customer = make_organization(name="Leaving Ltd")
    person = verified_user()
    member(person, "member", customer)
    raw = _key(person, customer, "org.view")
    assert _key_get(raw, f"/api/orgs/{customer.slug}/members") == 200
    EmailAddress.objects.create(user=officer, email=officer.email, verified=True, primary=True)
    client = Client()
    sign_in_with_mfa(client, officer)  # operator admins pass the second factor
    # Rows are never deleted from admin: no delete page, no bulk delete.
    change_url = f"/admin/accounts/organization/{customer.pk}/delete/"
    assert client.get(change_url).status_code == 403

    response = client.post(
        "/admin/accounts/organization/",
        {"action": "close_organizations", "_selected_action": [customer.pk]},
    )

    assert response.status_code == 302
    assert Organization.objects.filter(pk=customer.pk).exists()
    assert not Membership.objects.filter(
        organization=customer, status=Membership.Status.ACTIVE
    ).exists()
    assert _key_get(raw, f"/api/orgs/{customer.slug}/members") == 401
    event = SecurityEvent.objects.get(event_type="organization.closed", organization=customer)
    assert event.actor_id == officer.pk and event.detail["memberships"] == 1
