"""Legal holds through the API, and the intake of privacy requests."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compliance.models import DataSubjectRequest, LegalHold
from tests import factories
from tests.compliance.privacy_support import operator_member

pytestmark = pytest.mark.django_db


def test_a_privacy_manager_places_and_releases_a_hold(api_client) -> None:
    manager = operator_member("admin")
    subject = factories.UserFactory()
    api_client.force_authenticate(manager)

    placed = api_client.post(
        "/api/compliance/legal-holds",
        {"reason": "litigation 2026-4", "user": str(subject.public_id)},
        format="json",
    )
    assert placed.status_code == 201, placed.content
    body = placed.json()
    assert body["scope"] == "user" and body["owner"] == str(manager.public_id)
    assert body["user"] == str(subject.public_id)

    both = api_client.post(
        "/api/compliance/legal-holds",
        {"reason": "x", "user": str(subject.public_id), "data_type": "backups"},
        format="json",
    )
    assert both.status_code == 400 and both.json()["code"] == "legal_hold_target"

    released = api_client.post(f"/api/compliance/legal-holds/{body['id']}/release")
    assert released.status_code == 200 and released.json()["released_at"]
    assert LegalHold.objects.get().released_at is not None


def test_holds_need_privacy_manage(api_client) -> None:
    api_client.force_authenticate(factories.MembershipFactory().user)
    refused = api_client.post(
        "/api/compliance/legal-holds", {"reason": "x", "data_type": "backups"}, format="json"
    )
    assert refused.status_code == 403
    assert not LegalHold.objects.exists()


def test_hold_list_runs_a_constant_number_of_queries(api_client) -> None:
    manager = factories.operator_member("admin")
    api_client.force_authenticate(manager)

    def hold_and_count() -> tuple[int, int]:
        api_client.post(
            "/api/compliance/legal-holds",
            {"reason": "r", "user": str(factories.UserFactory().public_id)},
            format="json",
        )
        with CaptureQueriesContext(connection) as queries:
            listed = api_client.get("/api/compliance/legal-holds").json()["results"]
        return len(listed), len(queries)

    # The first call of the day also creates the usage counter's row.
    hold_and_count()
    two, queries_for_two = hold_and_count()
    for _ in range(3):
        hold_and_count()
    six, queries_for_six = hold_and_count()
    assert (two, six) == (2, 6)
    assert queries_for_six == queries_for_two


def test_a_person_files_a_complaint_and_sees_only_their_own_requests(api_client) -> None:
    person, other = factories.UserFactory(), factories.UserFactory()
    api_client.force_authenticate(other)
    api_client.post("/api/compliance/privacy/requests", {"kind": "objection"}, format="json")

    api_client.force_authenticate(person)
    filed = api_client.post(
        "/api/compliance/privacy/requests", {"kind": "complaint"}, format="json"
    )
    assert filed.status_code == 201
    assert filed.json()["status"] == "received" and filed.json()["response_seconds"] is None
    listed = api_client.get("/api/compliance/privacy/requests").json()["results"]
    assert [r["kind"] for r in listed] == ["complaint"]
    request = DataSubjectRequest.objects.get(kind="complaint")
    assert (request.due_at - request.received_at).days == 30
