"""Staff status cannot be granted through an admin form: it would open the
whole operator trail without four-eyes approval."""

from __future__ import annotations

import pytest
from django.test import Client

from tests import factories
from tests.accounts.auth_support import enrolled_device, verified_user
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def test_admin_form_cannot_make_a_tenant_user_staff() -> None:
    operator = factories.OrganizationFactory(is_operator=True)
    admin = verified_user(is_staff=True)
    factories.MembershipFactory(
        user=admin, organization=operator, role=factories.builtin_role("admin")
    )
    target = factories.UserFactory(full_name="Nora Nurse")
    device, totp = enrolled_device(admin)
    client = Client()
    signed_in = client.post(
        "/admin/login/?next=/admin/",
        {
            "username": admin.email,
            "password": DEFAULT_PASSWORD,
            "otp_device": device.persistent_id,
            "otp_token": totp.now(),
        },
    )
    assert signed_in.status_code == 302, signed_in.content

    page = client.get(f"/admin/accounts/user/{target.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="full_name"' in html
    assert 'name="is_staff"' not in html

    client.post(
        f"/admin/accounts/user/{target.pk}/change/",
        {
            "full_name": "Nora Nurse",
            "is_staff": "on",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    target.refresh_from_db()
    assert target.is_staff is False
