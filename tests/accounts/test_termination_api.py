"""Termination through the API: an operator act, refused to anyone else."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.accounts.access_helpers import fresh, member, organization

pytestmark = pytest.mark.django_db


def test_operator_admin_terminates_and_the_session_dies() -> None:
    operator = organization(is_operator=True)
    member(operator, "owner")
    officer = member(operator, "admin").user
    customer = organization()
    customer_owner = member(customer, "owner").user
    leaver = member(customer).user
    session = Client()
    session.force_login(leaver)
    assert session.get("/api/me").status_code == 200

    refused = APIClient()
    refused.force_authenticate(customer_owner)
    response = refused.post(
        f"/api/users/{leaver.public_id}/terminate", {"reason": "x"}, format="json"
    )
    assert response.status_code == 403
    assert fresh(leaver).terminated_at is None
    assert session.get("/api/me").status_code == 200

    api = APIClient()
    api.force_authenticate(officer)
    response = api.post(
        f"/api/users/{leaver.public_id}/terminate", {"reason": "offboarding"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["terminated_reason"] == "offboarding"
    assert session.get("/api/me").status_code == 401
