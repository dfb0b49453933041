"""The audit API: permission-checked, filtered like the pages, cursor
paginated, errors in the JSON format, described in the OpenAPI schema."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from audit.models import SecurityEvent
from audit.services import security_event_record
from tests import factories

pytestmark = pytest.mark.django_db

ENDPOINTS = ["/api/compliance/security/events", "/api/compliance/audit-log"]


def _client(user: factories.User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.parametrize("path", ENDPOINTS)
def test_unauthenticated_callers_get_a_json_401(path: str) -> None:
    response = _client(None).get(path)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("path", ENDPOINTS)
def test_callers_without_the_permission_get_a_json_403_and_an_event(
    path: str, auditor: factories.User
) -> None:
    assert _client(auditor).get(path).status_code == 200
    member = factories.UserFactory()
    response = _client(member).get(path)
    assert response.status_code == 403
    assert response.json() == {
        "code": "permission_denied",
        "detail": "You do not have permission to perform this action.",
        "fields": {},
    }
    assert SecurityEvent.objects.filter(
        event_type=SecurityEvent.Type.PERMISSION_DENIED, actor_pk=member.pk
    ).exists()


def test_security_events_are_filtered_and_cursor_paginated(staff: factories.User) -> None:
    actor = factories.UserFactory()
    # Signing in records its own events; sign in first so the newest event
    # is the lock-out below.
    client = _client(staff)
    for i in range(7):
        security_event_record(
            event_type=SecurityEvent.Type.API_KEY_USED, actor=actor, detail={"i": i}
        )
    security_event_record(event_type=SecurityEvent.Type.LOCKED_OUT)

    page = client.get(
        "/api/compliance/security/events",
        {"event_type": "api_key.used", "actor": actor.email, "page_size": 3},
    ).json()
    seen = []
    while True:
        assert len(page["results"]) <= 3
        seen += [row["detail"]["i"] for row in page["results"]]
        if not page["next"]:
            break
        page = client.get(page["next"]).json()
    assert seen == [6, 5, 4, 3, 2, 1, 0]

    first = client.get("/api/compliance/security/events", {"page_size": 1}).json()["results"][0]
    assert first["event_type"] == "auth.locked_out"
    assert first["severity"] == "high"
    assert set(first) >= {"id", "occurred_at", "actor", "ip", "request_id", "row_hash"}


def test_audit_log_filters_by_object(staff: factories.User) -> None:
    organization = factories.OrganizationFactory(name="Listed")
    factories.OrganizationFactory(name="Other")
    response = _client(staff).get(
        "/api/compliance/audit-log",
        {"object_type": "accounts.organization", "object_pk": organization.pk},
    )
    (row,) = response.json()["results"]
    assert row["object_repr"] == "Listed"
    assert row["action"] == "create"
    assert row["object_type"] == "accounts.organization"


def test_invalid_filters_answer_400_with_fields(staff: factories.User) -> None:
    response = _client(staff).get(
        "/api/compliance/security/events", {"severity": "apocalyptic", "date_from": "soon"}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["fields"]) == {"severity", "date_from"}


@pytest.mark.parametrize("path", ENDPOINTS)
def test_an_offset_that_no_time_zone_has_is_a_400_not_a_500(
    path: str, staff: factories.User
) -> None:
    client = _client(staff)
    # A real offset first, then one Python accepts and PostgreSQL refuses.
    assert client.get(path, {"date_from": "2026-01-01T00:00:00+05:30"}).status_code == 200
    response = client.get(path, {"date_from": "2026-01-01T00:00:00-23:55"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert set(response.json()["fields"]) == {"date_from"}
    late = client.get(path, {"date_to": "9999-12-31T23:00:00-05:00"})
    assert late.status_code == 400 and set(late.json()["fields"]) == {"date_to"}


@pytest.mark.parametrize("path", ENDPOINTS)
def test_api_lists_run_a_constant_number_of_queries(path: str, staff: factories.User) -> None:
    client = _client(staff)
    user = factories.UserFactory()
    organization = factories.OrganizationFactory()

    def fill(count: int) -> None:
        for i in range(count):
            organization.name = f"n{i}"
            organization.save()
            security_event_record(
                event_type=SecurityEvent.Type.ROLE_GRANTED,
                actor=user,
                target_user=user,
                organization=organization,
            )

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path, {"page_size": 200}).status_code == 200
        return len(captured)

    # The first request after signing in does one-off session work (the
    # session row and second-factor state are refreshed once): not per row.
    queries()
    fill(10)
    small = queries()
    fill(190)
    assert queries() == small


def test_both_endpoints_are_in_the_schema_without_trailing_slash() -> None:
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in ENDPOINTS:
        assert path in schema["paths"]
        assert path + "/" not in schema["paths"]
    events = schema["paths"]["/api/compliance/security/events"]["get"]
    names = {p["name"] for p in events["parameters"]}
    assert {"cursor", "actor", "event_type", "severity", "date_from", "date_to"} <= names
