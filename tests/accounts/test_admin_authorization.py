"""Django admin's permission checks go through the authorization service."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Membership
from accounts.services import user_terminate
from tests.accounts.access_helpers import member, organization
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    return organization(is_operator=True, slug="cloudexpress")


def staff(user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


def test_operator_admin_browses_and_searches_memberships(operator) -> None:
    officer = staff(member(operator, "admin").user)
    customer = organization(name="Acme Health")
    member(customer, "owner", user=UserFactory(email="nora@acme.test"))
    client = Client()
    client.force_login(officer)

    assert client.get("/admin/").status_code == 200
    listing = client.get("/admin/accounts/membership/", {"q": "nora@acme"})
    assert listing.status_code == 200
    assert "nora@acme.test" in listing.content.decode()
    assert client.get("/admin/accounts/role/", {"kind__exact": "owner"}).status_code == 200
    assert client.get("/admin/accounts/user/", {"is_active__exact": "1"}).status_code == 200
    # Read-only: memberships change through the guarded services.
    assert client.get("/admin/accounts/membership/add/").status_code == 403


def test_superuser_flag_alone_grants_nothing_in_admin(operator) -> None:
    flagged = UserFactory(is_staff=True, is_superuser=True)
    assert not flagged.has_perm("accounts.view_membership")
    client = Client()
    client.force_login(flagged)
    assert client.get("/admin/accounts/membership/").status_code == 403


def test_operator_member_sees_but_cannot_change_users(operator) -> None:
    plain = staff(member(operator).user)
    assert plain.has_perm("accounts.view_user")
    assert not plain.has_perm("accounts.change_user")
    admin = staff(member(operator, "admin").user)
    assert admin.has_perm("accounts.change_user")


def test_expired_operator_auditor_loses_admin_at_once(operator) -> None:
    auditor = staff(
        member(operator, "auditor", expires_at=timezone.now() + timedelta(hours=1)).user
    )
    client = Client()
    client.force_login(auditor)
    assert client.get("/admin/accounts/membership/").status_code == 200
    Membership.objects.filter(user=auditor).update(expires_at=timezone.now())
    assert client.get("/admin/accounts/membership/").status_code == 403


def test_terminated_staff_is_signed_out_of_admin(operator) -> None:
    member(operator, "owner")
    boss = member(operator, "admin").user
    officer = staff(member(operator, "admin").user)
    client = Client()
    client.force_login(officer)
    assert client.get("/admin/").status_code == 200
    user_terminate(user=officer, by=boss, reason="left")
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "login" in response["Location"]
