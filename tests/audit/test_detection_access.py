"""Who may use detection: the accounts authorization service, in the
operator organization, and operator API keys by scope on the ingest API."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.auth import apikeys
from accounts.models import Organization, Permission, Role
from audit.detection.permissions import user_has_permission
from audit.models import SecurityEvent
from tests import factories

pytestmark = pytest.mark.django_db

INGEST = "/api/compliance/security/ingest"
ALERTS = "/api/compliance/security/alerts"


def _operator() -> Organization:
    return Organization.objects.create(name="CloudExpress", slug="cx", is_operator=True)


def _custom_role(organization: Organization, *codes: str) -> Role:
    factories.builtin_role("member")  # seeds the permission catalog
    role = Role.objects.create(organization=organization, name=f"Holds {' '.join(codes)}")
    role.permissions.set(Permission.objects.filter(code__in=codes))
    assert role.permissions.count() == len(codes)
    return role


def _body(ip: str) -> dict[str, object]:
    line = json.dumps({"type": "auth.sign_in_failed", "ip": ip, "detail": {"username": "x"}})
    return {"format": "jsonl", "source": "edge", "lines": [line]}


def _post(raw: str, body: dict[str, object]) -> int:
    response = APIClient().post(INGEST, body, format="json", HTTP_AUTHORIZATION=f"ApiKey {raw}")
    return response.status_code


def test_a_custom_operator_role_counts_until_its_membership_expires() -> None:
    operator = _operator()
    membership = factories.MembershipFactory(
        organization=operator, role=_custom_role(operator, "incidents.manage")
    )
    user = membership.user
    assert user_has_permission(user, "incidents.manage")
    assert not user_has_permission(user, "security_events.ingest")
    membership.expires_at = timezone.now() - dt.timedelta(minutes=1)
    membership.save(update_fields=["expires_at"])
    user.refresh_from_db()
    assert not user_has_permission(user, "incidents.manage")
    # The same role in a customer organization gives nothing here.
    elsewhere = factories.OrganizationFactory()
    outsider = factories.MembershipFactory(
        organization=elsewhere, role=_custom_role(elsewhere, "incidents.manage")
    ).user
    assert not user_has_permission(outsider, "incidents.manage")
    # The operator's admin holds it; the staff or superuser flag alone
    # does not, as it holds nothing in the authorization service.
    admin = factories.MembershipFactory(
        organization=operator, role=factories.builtin_role("admin")
    ).user
    assert user_has_permission(admin, "incidents.manage")
    flagged = factories.UserFactory(is_staff=True, is_superuser=True)
    assert not user_has_permission(flagged, "incidents.manage")
    admin.terminated_at = timezone.now()
    assert not user_has_permission(admin, "incidents.manage")


def test_an_operator_api_key_with_the_ingest_scope_may_ingest() -> None:
    operator = _operator()
    collector = factories.MembershipFactory(
        organization=operator, role=_custom_role(operator, "security_events.ingest")
    ).user
    ingest_key = apikeys.api_key_create(
        user=collector,
        organization=operator,
        name="collector",
        scopes=["security_events.ingest"],
        created_by=collector,
    )
    other_scope = apikeys.api_key_create(
        user=collector,
        organization=operator,
        name="reader",
        scopes=["security_events.view"],
        created_by=collector,
    )
    assert _post(ingest_key.raw, _body("198.51.100.61")) == 200
    assert SecurityEvent.objects.filter(ip="198.51.100.61").count() == 1
    # Same user, a key without the scope: refused, nothing stored.
    assert _post(other_scope.raw, _body("198.51.100.62")) == 403
    assert not SecurityEvent.objects.filter(ip="198.51.100.62").exists()
    # The scope does not give what the user's role lacks.
    reader = factories.MembershipFactory(
        organization=operator, role=_custom_role(operator, "security_events.view")
    ).user
    unheld = apikeys.api_key_create(
        user=reader,
        organization=operator,
        name="unheld",
        scopes=["security_events.ingest"],
        created_by=reader,
    )
    assert _post(unheld.raw, _body("198.51.100.63")) == 403
    assert not SecurityEvent.objects.filter(ip="198.51.100.63").exists()


def test_a_customer_organization_key_is_refused_even_for_an_operator_collector() -> None:
    operator = _operator()
    staff = factories.UserFactory(is_staff=True)
    factories.MembershipFactory(
        user=staff,
        organization=operator,
        role=_custom_role(operator, "security_events.ingest", "security_events.view"),
    )
    customer = factories.OrganizationFactory()
    factories.MembershipFactory(user=staff, organization=customer)
    operator_key = apikeys.api_key_create(
        user=staff,
        organization=operator,
        name="op",
        scopes=["security_events.ingest", "security_events.view"],
        created_by=staff,
    )
    customer_key = apikeys.api_key_create(
        user=staff,
        organization=customer,
        name="cust",
        scopes=["security_events.ingest", "security_events.view"],
        created_by=staff,
    )
    assert _post(operator_key.raw, _body("198.51.100.64")) == 200
    assert _post(customer_key.raw, _body("198.51.100.65")) == 403
    assert not SecurityEvent.objects.filter(ip="198.51.100.65").exists()
    headers = {"HTTP_AUTHORIZATION": f"ApiKey {operator_key.raw}"}
    assert APIClient().get(ALERTS, **headers).status_code == 200
    headers = {"HTTP_AUTHORIZATION": f"ApiKey {customer_key.raw}"}
    assert APIClient().get(ALERTS, **headers).status_code == 403
