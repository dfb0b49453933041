"""The SOC 2 API: paths, permissions, shapes, filters and JSON errors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import roles_builtin_ensure
from compliance.models import Run
from compliance.runs import checks_run
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory, operator_member

pytestmark = pytest.mark.django_db

PATHS = (
    "/api/compliance/soc2/status",
    "/api/compliance/soc2/report",
    "/api/compliance/soc2/controls",
    "/api/compliance/soc2/readiness",
    "/api/compliance/soc2/history",
    "/api/compliance/security/report",
)


@pytest.fixture
def operator_org() -> Any:
    return OrganizationFactory(slug=settings.OPERATOR_ORGANIZATION_SLUG, is_operator=True)


def member_of(organization: Any, kind: str) -> APIClient:
    user = UserFactory()
    MembershipFactory(user=user, organization=organization, role=roles_builtin_ensure()[kind])
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def officer(operator_org: Any) -> APIClient:
    return member_of(operator_org, "member")


@pytest.mark.parametrize("path", PATHS)
def test_each_endpoint_answers_a_permitted_member_and_refuses_others(
    path: str, operator_org: Any
) -> None:
    checks_run()
    # The operator's member (controls.view through the Member role) is let in...
    assert member_of(operator_org, "member").get(path).status_code == 200
    # ...the same role in a customer organization is not: the programme is
    # the operator's.
    customer = member_of(OrganizationFactory(), "owner").get(path)
    assert customer.status_code == 403
    assert customer.json()["code"] == "permission_denied"
    anonymous = APIClient().get(path)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"


def test_staff_flag_alone_is_refused_the_operator_admin_role_is_let_in() -> None:
    checks_run()
    path = "/api/compliance/soc2/status"
    # The permitted case first: an operator admin reads the status...
    admin = APIClient()
    admin.force_authenticate(operator_member("admin"))
    assert admin.get(path).status_code == 200
    # ...and the staff flag without a membership gives nothing, as it gives
    # nothing in the authorization service.
    for flags in ({"is_staff": True}, {"is_staff": True, "is_superuser": True}):
        client = APIClient()
        client.force_authenticate(UserFactory(**flags))
        refused = client.get(path)
        assert refused.status_code == 403, flags
        assert refused.json()["code"] == "permission_denied"


def test_expired_or_terminated_members_are_refused(operator_org: Any) -> None:
    checks_run()
    user = UserFactory()
    membership = MembershipFactory(
        user=user, organization=operator_org, role=roles_builtin_ensure()["member"]
    )
    client = APIClient()
    client.force_authenticate(user)
    assert client.get("/api/compliance/soc2/status").status_code == 200
    membership.expires_at = timezone.now() - timedelta(minutes=1)
    membership.save()
    assert client.get("/api/compliance/soc2/status").status_code == 403


@pytest.mark.parametrize("path", PATHS)
def test_no_trailing_slash_variant_exists(path: str, officer: APIClient) -> None:
    response = officer.get(path + "/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_status_before_any_run_is_a_json_404(officer: APIClient) -> None:
    response = officer.get("/api/compliance/soc2/status")
    assert response.status_code == 404
    assert response.json()["code"] == "no_run"


def test_status_report_and_controls_agree(officer: APIClient) -> None:
    run = checks_run()
    status = officer.get("/api/compliance/soc2/status").json()
    report = officer.get("/api/compliance/soc2/report").json()
    controls = officer.get("/api/compliance/soc2/controls").json()
    assert status["run_id"] == report["run_id"] == controls["run_id"] == run.pk
    assert status["score"] == report["score"] == round(run.score, 4)
    assert status["formula"]
    assert {c["code"] for c in report["categories"]} == {"CC", "A", "PI", "C", "P"}
    assert len(report["criteria"]) == 61
    assert report["not_applicable"] and all(item["reason"] for item in report["not_applicable"])
    assert (
        sum(1 for c in controls["controls"] if c["status"] == "pass") == status["controls_passing"]
    )
    some_check = controls["controls"][0]["checks"][0]
    assert {"evidence", "failing_objects", "status", "reason"} <= set(some_check)


def test_history_filters_by_from_and_to(officer: APIClient) -> None:
    early = checks_run()
    Run.objects.filter(pk=early.pk).update(started_at=timezone.now() - timedelta(days=10))
    late = checks_run()
    today = timezone.localdate()

    everything = officer.get("/api/compliance/soc2/history").json()
    assert [r["run_id"] for r in everything["runs"]] == [early.pk, late.pk]
    recent = officer.get(
        "/api/compliance/soc2/history", {"from": (today - timedelta(days=2)).isoformat()}
    ).json()
    assert [r["run_id"] for r in recent["runs"]] == [late.pk]
    older = officer.get(
        "/api/compliance/soc2/history", {"to": (today - timedelta(days=5)).isoformat()}
    ).json()
    assert [r["run_id"] for r in older["runs"]] == [early.pk]
    assert set(older["runs"][0]["categories"]) == {"CC", "A", "PI", "C", "P"}


@pytest.mark.parametrize(
    "params", [{"from": "not-a-date"}, {"from": "2026-12-01", "to": "2026-11-01"}]
)
def test_bad_windows_are_json_400s(officer: APIClient, params: dict[str, str]) -> None:
    response = officer.get("/api/compliance/soc2/history", params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and "from" in body["fields"]


def test_readiness_reports_the_window(officer: APIClient) -> None:
    checks_run()
    today = timezone.localdate()
    body = officer.get(
        "/api/compliance/soc2/readiness", {"from": (today - timedelta(days=6)).isoformat()}
    ).json()
    assert body["window"]["days"] == 7
    assert body["ready"] is False and body["blockers"]
    assert len(body["criteria"]) == 61


def test_security_report_counts_events(officer: APIClient) -> None:
    from audit.models import SecurityEvent
    from audit.services import security_event_record

    for _ in range(3):
        security_event_record(event_type=SecurityEvent.Type.SIGN_IN_FAILED)
    checks_run()
    body = officer.get("/api/compliance/security/report").json()
    assert body["events"]["by_type"] == {"auth.sign_in_failed": 3}
    assert body["security_score"]["code"] == "CC"
    assert all(not c["check_id"].startswith(("p-", "gov-")) for c in body["failing_checks"])


def test_every_path_is_in_the_schema(client: Any) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in PATHS:
        assert path in schema["paths"], path


def test_controls_endpoint_runs_a_fixed_number_of_queries(officer: APIClient) -> None:
    checks_run()
    # The day's first API call of an organization also resolves its
    # membership and creates the usage row (compliance.privacy.usage), once a
    # day: warm that up so both measurements count the endpoint alone.
    assert officer.get("/api/compliance/soc2/controls").status_code == 200
    with CaptureQueriesContext(connection) as first:
        officer.get("/api/compliance/soc2/controls")
    for _ in range(5):
        MembershipFactory()
    checks_run()
    with CaptureQueriesContext(connection) as second:
        officer.get("/api/compliance/soc2/controls")
    assert len(first) == len(second) == 8


def test_an_api_key_reads_the_soc2_api_only_with_the_controls_view_scope(
    operator_org: Any,
) -> None:
    from accounts.auth.apikeys import api_key_create

    checks_run()
    user = UserFactory()
    MembershipFactory(user=user, organization=operator_org, role=roles_builtin_ensure()["admin"])

    def status_with(*scopes: str) -> int:
        issued = api_key_create(
            user=user,
            organization=operator_org,
            name="-".join(scopes),
            scopes=list(scopes),
            created_by=user,
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"ApiKey {issued.raw}")
        return client.get("/api/compliance/soc2/status").status_code

    # The permitted case first, then the same admin's key without the scope.
    assert status_with("controls.view") == 200
    assert status_with("org.view") == 403
