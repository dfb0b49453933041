"""The alerts API and page: permission-checked, constant query count, schema."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Organization
from audit.detection import alerts as alert_services
from audit.models import Alert
from tests import factories
from tests.audit.detection_helpers import login_with_second_factor

pytestmark = pytest.mark.django_db

URL = "/api/compliance/security/alerts"


def _alert(index: int, **kwargs: object) -> Alert:
    now = timezone.now()
    owner = factories.UserFactory()
    return Alert.objects.create(
        rule="brute_force_ip",
        key=f"ip:198.51.100.{index}",
        title="Brute force",
        severity="high",
        source_ip=f"198.51.100.{index}",
        owner=owner,
        subject_user=factories.UserFactory(),
        first_event_at=now,
        last_event_at=now,
        event_count=10,
        **kwargs,
    )


def _operator_member(kind: str) -> factories.User:
    operator = Organization.objects.create(name="CloudExpress", slug="cx", is_operator=True)
    membership = factories.MembershipFactory(
        organization=operator, role=factories.builtin_role(kind)
    )
    return membership.user


def test_alerts_listed_for_permitted_users_and_refused_to_others(api_client) -> None:
    _alert(1)
    _alert(2, status=Alert.Status.RESOLVED)
    auditor = _operator_member("auditor")
    api_client.force_authenticate(auditor)
    response = api_client.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["results"][0]["source_ip"] == "198.51.100.1"

    member = factories.MembershipFactory(
        organization=Organization.objects.get(is_operator=True),
        role=factories.builtin_role("member"),
    ).user
    api_client.force_authenticate(member)
    refused = api_client.get(URL)
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    api_client.force_authenticate(None)
    assert api_client.get(URL).status_code == 401
    api_client.force_authenticate(factories.operator_member("admin"))
    assert api_client.get(URL).status_code == 200


def test_alert_list_runs_a_constant_number_of_queries(api_client) -> None:
    api_client.force_authenticate(factories.operator_member("admin"))
    _alert(1)
    # The first request of a user also looks up its organization for the API
    # usage counter, then cached: measure warm requests only.
    assert api_client.get(URL).status_code == 200
    with CaptureQueriesContext(connection) as few:
        assert api_client.get(URL).status_code == 200
    for index in range(2, 12):
        _alert(index)
    with CaptureQueriesContext(connection) as many:
        response = api_client.get(URL)
    assert response.json()["count"] == 11
    assert len(many) == len(few)


def test_alert_status_changes_and_false_positive_rate(api_client) -> None:
    manager = factories.operator_member("admin")
    api_client.force_authenticate(manager)
    first, second = _alert(1), _alert(2)
    url = f"{URL}/{first.public_id}/status"
    assert api_client.post(url, {"status": "acknowledged"}, format="json").status_code == 200
    assert (
        api_client.post(
            url, {"status": "false_positive", "note": "pen test"}, format="json"
        ).status_code
        == 200
    )
    assert api_client.post(url, {"status": "acknowledged"}, format="json").status_code == 409
    alert_services.alert_status_change(alert=second, status="resolved", by=manager)
    rates = alert_services.false_positive_rates()["brute_force_ip"]
    assert rates == {"total": 2, "closed": 2, "false_positive": 1, "rate": 0.5}
    assert api_client.get(URL).json()["count"] == 0


def test_alert_endpoints_are_in_the_schema(api_client) -> None:
    api_client.force_authenticate(factories.operator_member("admin"))
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "/api/compliance/security/alerts" in schema
    assert "/api/compliance/security/alerts/" not in schema.replace("alerts/{public_id}", "")
    assert "/api/compliance/security/ingest" in schema


def test_alert_page_shows_scored_events_and_why(client) -> None:
    from audit.detection.engine import detection_run
    from tests.audit.detection_helpers import at, record

    for index in range(10):
        record("auth.sign_in_failed", at(index * 0.1), ip="203.0.113.9", detail={"username": "x"})
    detection_run()
    alert = Alert.objects.get(rule="brute_force_ip")
    login_with_second_factor(client, factories.operator_member("admin"))
    page = client.get(f"/security/alerts/{alert.public_id}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="risk"') == 10
    assert "base 15" in html
    listing = client.get("/security/alerts/")
    assert "Brute force from 203.0.113.9" in listing.content.decode()
    client.force_login(factories.UserFactory())
    assert client.get("/security/alerts/").status_code == 403


def test_alert_and_incident_pages_run_a_constant_number_of_queries(client) -> None:
    from audit.detection import incidents
    from audit.detection.engine import detection_run
    from tests.audit.detection_helpers import at, record

    staff = factories.operator_member("admin")
    login_with_second_factor(client, staff)

    def burst(ip: str, count: int) -> Alert:
        for index in range(count):
            record("auth.sign_in_failed", at(index * 0.1), ip=ip, detail={"username": "x"})
        detection_run()
        return Alert.objects.get(rule="brute_force_ip", source_ip=ip)

    def counted(url: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    small, large = burst("203.0.113.1", 10), burst("203.0.113.2", 40)
    counted("/security/alerts/")  # warm: the role graph is then kept in memory
    assert counted(f"/security/alerts/{small.public_id}/") == counted(
        f"/security/alerts/{large.public_id}/"
    )
    few = counted("/security/alerts/")
    for index in range(3, 9):
        _alert(index)
    assert counted("/security/alerts/") == few

    one = incidents.incident_open(title="One", severity="low", by=staff, alert=small)
    two = incidents.incident_open(title="Two", severity="low", by=staff, alert=large)
    for phase in ("analysis", "containment", "eradication"):
        incidents.incident_phase_advance(incident=two, phase=phase, by=staff)
    assert counted(f"/security/incidents/{one.public_id}/") == counted(
        f"/security/incidents/{two.public_id}/"
    )
    listed = counted("/security/incidents/")
    incidents.incident_open(title="Three", severity="low", by=staff)
    assert counted("/security/incidents/") == listed
