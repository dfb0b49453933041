"""Django admin of detection: operator members browse every register, no
form changes evidence, alerts and containment are worked through the
services, and a non-operator administrator sees nothing."""

from __future__ import annotations

import pytest
import time_machine
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Organization
from audit.models import (
    Alert,
    ContainmentAction,
    Incident,
    IncidentCommunication,
    IncidentPhase,
    SecurityEvent,
    ThreatIndicator,
)
from tests import factories
from tests.audit.detection_helpers import login_with_second_factor, record, run

pytestmark = pytest.mark.django_db

T = SecurityEvent.Type
ATTACKER = "198.51.100.66"
DETECTION_MODELS = [
    model for model in admin.site._registry if model.__module__ == "audit.models.detection"
]


def _admin_of(organization: Organization) -> Client:
    user = factories.UserFactory(is_staff=True)
    Membership.objects.create(
        user=user, organization=organization, role=factories.builtin_role("owner")
    )
    client = Client()
    login_with_second_factor(client, user)
    return client


def _contained_alert() -> Alert:
    victim = factories.UserFactory()
    now = timezone.now()
    for index in range(10):
        record(T.SIGN_IN_FAILED, now, ip=ATTACKER, target_user=victim, detail={"n": index})
    record(T.SIGN_IN_SUCCEEDED, now, ip=ATTACKER, actor=victim)
    run()
    return Alert.objects.get(rule="brute_force_account")


def _url(model: type, view: str, *args: object) -> str:
    return reverse(f"admin:audit_{model._meta.model_name}_{view}", args=args)


def test_every_detection_model_is_registered() -> None:
    names = {model._meta.model_name for model in DETECTION_MODELS}
    assert names >= {
        "alert",
        "alertevent",
        "blockedaddress",
        "containmentaction",
        "incident",
        "incidentphase",
        "incidenteventlink",
        "incidentcommunication",
        "threatindicator",
        "notification",
        "notificationpreference",
        "signinprofileentry",
        "detectioncursor",
        "ingestedline",
    }


def test_an_operator_admin_sees_every_register_and_cannot_edit_evidence(
    operator: Organization,
) -> None:
    alert = _contained_alert()
    incident = Incident.objects.create(
        title="Brute force",
        severity="high",
        started_at=alert.first_event_at,
        detected_at=alert.created_at,
    )
    IncidentPhase.objects.create(incident=incident, phase="detection")
    IncidentCommunication.objects.create(
        incident=incident,
        template="t",
        audience="internal",
        recipients="soc",
        subject="s",
        body="b",
    )
    client = _admin_of(operator)

    for model in DETECTION_MODELS:
        response = client.get(_url(model, "changelist"))
        assert response.status_code == 200, model

    # The alert shows, with its evidence as text and no field to change it.
    page = client.get(_url(Alert, "change", alert.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert alert.title in html
    for field in ("severity", "first_event_at", "event_count", "summary", "source_ip"):
        assert f'name="{field}"' not in html
    before = (alert.severity, alert.event_count, alert.first_event_at)
    refused = client.post(_url(Alert, "change", alert.pk), {"severity": "low", "event_count": "1"})
    assert refused.status_code == 403
    alert.refresh_from_db()
    assert (alert.severity, alert.event_count, alert.first_event_at) == before
    assert client.get(_url(Alert, "add")).status_code == 403
    assert client.post(_url(Alert, "delete", alert.pk), {"post": "yes"}).status_code == 403
    assert Alert.objects.filter(pk=alert.pk).exists()

    # Incident evidence is read-only as well, inlines included.
    html = client.get(_url(Incident, "change", incident.pk)).content.decode()
    assert (
        "Brute force" in html
        and 'name="title"' not in html
        and 'name="phases-0-notes"' not in html
    )
    assert client.post(_url(Incident, "change", incident.pk), {"title": "x"}).status_code == 403
    assert (
        client.post(_url(ThreatIndicator, "add"), {"network": "192.0.2.0/24"}).status_code == 403
    )


def test_admin_actions_go_through_the_services_and_are_recorded(operator: Organization) -> None:
    alert = _contained_alert()
    client = _admin_of(operator)

    response = client.post(
        _url(Alert, "changelist"),
        {"action": "mark_false_positive", "_selected_action": [alert.pk]},
    )
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.status == Alert.Status.FALSE_POSITIVE
    assert SecurityEvent.objects.filter(event_type="alert.status_changed").count() == 1
    # An alert already closed as a false positive cannot be acknowledged.
    client.post(
        _url(Alert, "changelist"),
        {"action": "mark_acknowledged", "_selected_action": [alert.pk]},
    )
    alert.refresh_from_db()
    assert alert.status == Alert.Status.FALSE_POSITIVE
    assert SecurityEvent.objects.filter(event_type="alert.status_changed").count() == 1

    lock = ContainmentAction.objects.get(kind="lock_account")
    assert lock.user is not None and lock.user.is_active is False
    client.post(
        _url(ContainmentAction, "changelist"),
        {"action": "reverse", "_selected_action": [lock.pk]},
    )
    lock.refresh_from_db()
    assert lock.state == ContainmentAction.State.REVERSED
    assert lock.user is not None and lock.user.is_active is True
    assert SecurityEvent.objects.filter(event_type="containment.reversed").count() == 1


def test_an_auditor_browses_but_has_no_actions(operator: Organization, auditor) -> None:
    alert = _contained_alert()
    auditor.is_staff = True
    auditor.save()
    client = Client()
    login_with_second_factor(client, auditor)
    assert client.get(_url(Alert, "changelist")).status_code == 200
    client.post(
        _url(Alert, "changelist"),
        {"action": "mark_false_positive", "_selected_action": [alert.pk]},
    )
    alert.refresh_from_db()
    assert alert.status == Alert.Status.OPEN


def test_an_admin_of_another_organization_sees_no_detection_data(operator: Organization) -> None:
    alert = _contained_alert()
    # The same kind of account, as an operator owner, sees the alert.
    assert _admin_of(operator).get(_url(Alert, "change", alert.pk)).status_code == 200

    tenant = factories.OrganizationFactory()
    client = _admin_of(tenant)
    for model in DETECTION_MODELS:
        assert client.get(_url(model, "changelist")).status_code == 403, model
    assert client.get(_url(Alert, "change", alert.pk)).status_code in (302, 403)


def test_changelists_run_a_constant_number_of_queries(operator: Organization) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = _admin_of(operator)
    now = timezone.now()

    def add(count: int) -> None:
        for _ in range(count):
            owner, subject = factories.UserFactory(), factories.UserFactory()
            alert = Alert.objects.create(
                rule="brute_force_ip",
                key=f"ip:{owner.pk}",
                title="t",
                severity="high",
                first_event_at=now,
                last_event_at=now,
                owner=owner,
                subject_user=subject,
            )
            ContainmentAction.objects.create(alert=alert, kind="lock_account", user=subject)
            Incident.objects.create(
                title="i", severity="high", started_at=now, detected_at=now, owner=owner
            )

    def queries(model: type) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(_url(model, "changelist")).status_code == 200
        return len(captured)

    # Time stands still so the session's periodic activity stamp cannot add
    # a query to one page and not the other.
    with time_machine.travel(now, tick=False):
        # One request first: the blocklist reloads its snapshot once after a
        # cache flush (as between tests), which is not a per-row query.
        assert client.get(reverse("admin:index")).status_code == 200
        add(1)
        few = {model: queries(model) for model in (Alert, ContainmentAction, Incident)}
        add(6)
        assert {model: queries(model) for model in (Alert, ContainmentAction, Incident)} == few
