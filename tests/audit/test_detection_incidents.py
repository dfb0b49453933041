"""Incidents through their phases, review before closing, MTTD and MTTR per
month, communications; notifications, preferences, reminders and retention;
the beat task and the metrics."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.test import Client, override_settings
from django.utils import timezone

from audit.detection import incidents, notifications
from audit.detection.tasks import detection_run_task, notifications_daily_task
from audit.models import Alert, Incident, IncidentCommunication, Notification
from cloudexpress.api.exceptions import ServiceError
from compliance.models import JobRun
from tests import factories
from tests.audit.detection_helpers import login_with_second_factor, record

pytestmark = pytest.mark.django_db

P = Incident.Phase
LATER = [P.ANALYSIS, P.CONTAINMENT, P.ERADICATION, P.RECOVERY, P.LESSONS_LEARNED]


def _alert(first: dt.datetime, created: dt.datetime) -> Alert:
    return Alert.objects.create(
        rule="brute_force_ip",
        key="ip:198.51.100.1",
        title="Brute force",
        severity="high",
        first_event_at=first,
        last_event_at=created,
        created_at=created,
        event_count=1,
    )


def test_incident_from_alert_runs_its_phases_and_closes_after_review() -> None:
    owner = factories.operator_member("admin")
    with time_machine.travel(dt.datetime(2026, 10, 5, 12, 0, tzinfo=dt.UTC), tick=False):
        alert = _alert(
            dt.datetime(2026, 10, 5, 11, 0, tzinfo=dt.UTC),
            dt.datetime(2026, 10, 5, 11, 30, tzinfo=dt.UTC),
        )
        incident = incidents.incident_open(
            title="Brute force on bastion", severity="high", by=owner, alert=alert
        )
    with pytest.raises(ServiceError):
        incidents.incident_open(title="again", severity="high", by=owner, alert=alert)
    assert incident.phases.count() == 1

    clock = dt.datetime(2026, 10, 5, 12, 0, tzinfo=dt.UTC)
    for phase in LATER:
        clock += dt.timedelta(hours=1)
        incidents.incident_phase_advance(
            incident=incident, phase=phase, by=owner, notes=f"{phase} done", at=clock
        )
    incident.refresh_from_db()
    assert [p.phase for p in incident.phases.order_by("started_at")] == [P.DETECTION, *LATER]
    assert incident.resolved_at == clock
    with pytest.raises(ServiceError, match="review"):
        incidents.incident_close(incident=incident, by=owner)
    with pytest.raises(ServiceError):
        incidents.incident_phase_advance(incident=incident, phase=P.ANALYSIS, by=owner)
    incidents.incident_review_record(incident=incident, by=owner, summary="Key-only SSH now.")
    incidents.incident_close(incident=incident, by=owner)
    incident.refresh_from_db()
    assert incident.status == Incident.Status.CLOSED

    # Detected 30 minutes after the first event; recovered 5 hours after that.
    times = incidents.response_times(dt.date(2026, 10, 1))
    assert times["incidents"] == 1
    assert times["mttd_minutes"] == 30.0
    assert times["mttr_minutes"] == 330.0
    assert incidents.response_times(dt.date(2026, 9, 1))["incidents"] == 0

    timeline = incidents.incident_timeline(incident)
    assert [entry["kind"] for entry in timeline].count("phase") == 6
    assert any(entry["kind"] == "alert" for entry in timeline)


def test_incident_by_hand_cannot_close_early_and_page_selects_month(
    django_capture_on_commit_callbacks,
) -> None:
    owner = factories.operator_member("admin")
    with django_capture_on_commit_callbacks(execute=True):
        incident = incidents.incident_open(title="Lost laptop", severity="medium", by=owner)
    [notice] = Notification.objects.filter(recipient=owner, kind="incident_changed")
    assert notice.body == "Incident opened"
    with pytest.raises(ServiceError, match="Lessons"):
        incidents.incident_close(incident=incident, by=owner)
    client = Client()
    login_with_second_factor(client, owner)
    month = timezone.now().strftime("%Y-%m")
    page = client.get(f"/security/incidents/?month={month}")
    assert page.status_code == 200 and "Lost laptop" in page.content.decode()
    detail = client.get(f"/security/incidents/{incident.public_id}/")
    assert "Not reviewed yet" in detail.content.decode()


def test_communication_is_sent_from_a_template_and_kept() -> None:
    owner = factories.operator_member("admin", full_name="Rita Owner")
    incident = incidents.incident_open(title="Credential stuffing", severity="high", by=owner)
    mail.outbox.clear()
    incidents.incident_communication_send(
        incident=incident,
        template="internal_initial",
        recipients=["security@cloudexpress.test"],
        by=owner,
        note="War room at 14:00.",
    )
    incidents.incident_communication_send(
        incident=incident,
        template="customer_notice",
        recipients=["customer@example.test"],
        by=owner,
    )
    rows = list(IncidentCommunication.objects.order_by("id"))
    assert [(r.template, r.audience) for r in rows] == [
        ("internal_initial", "internal"),
        ("customer_notice", "customers"),
    ]
    assert "Credential stuffing" in mail.outbox[0].subject
    assert "Rita Owner" in mail.outbox[0].body and "War room" in mail.outbox[0].body
    assert mail.outbox[1].to == ["customer@example.test"]
    with pytest.raises(ServiceError):
        incidents.incident_communication_send(
            incident=incident, template="nope", recipients=["a@example.test"], by=owner
        )


def test_new_alert_notifies_security_team_by_preference() -> None:
    quiet = factories.operator_member("admin")
    loud = factories.operator_member("admin")
    factories.UserFactory()  # not on the team
    notifications.preference_set(user=quiet, kind="alert_raised", in_app=True, email=False)
    now = timezone.now()
    for _ in range(10):
        record("auth.sign_in_failed", now, ip="198.51.100.90")
    mail.outbox.clear()
    detection_run_task()
    assert set(Notification.objects.values_list("recipient_id", flat=True)) == {quiet.pk, loud.pk}
    assert [m.to for m in mail.outbox] == [[loud.email]]
    # A repeated run notifies nobody again.
    detection_run_task()
    assert Notification.objects.count() == 2
    assert JobRun.objects.filter(job="audit.detection_run", status="done").count() == 2


def test_account_security_notice_cannot_lose_its_email() -> None:
    user = factories.UserFactory()
    notifications.preference_set(user=user, kind="account_security", in_app=False, email=False)
    mail.outbox.clear()
    notifications.account_security_notify(user=user, event_kind="password_changed", event_id=7)
    notifications.account_security_notify(user=user, event_kind="password_changed", event_id=7)
    assert [m.to for m in mail.outbox] == [[user.email]]
    assert Notification.objects.get(recipient=user).read_at is not None


def test_reminders_once_a_day_and_retention_after_90_days() -> None:
    owner = factories.operator_member("admin")
    start = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        incidents.incident_open(title="Stale", severity="low", by=owner)
    with time_machine.travel(start + dt.timedelta(hours=30), tick=False):
        assert notifications_daily_task()["reminders"] == 1
        assert notifications_daily_task()["reminders"] == 0
    with time_machine.travel(start + dt.timedelta(days=2), tick=False):
        assert notifications.reminders_send() == 1
    assert Notification.objects.filter(kind="reminder").count() == 2
    with time_machine.travel(start + dt.timedelta(days=89), tick=False):
        assert notifications.notifications_purge() == 0
    with time_machine.travel(start + dt.timedelta(days=93), tick=False):
        done = notifications_daily_task()
    # The two old reminders went; the incident is still stale, so that day's
    # run sent a fresh reminder.
    assert done == {"reminders": 1, "purged": 2}
    [left] = Notification.objects.filter(kind="reminder")
    assert left.created_at == start + dt.timedelta(days=93)


@override_settings(METRICS_TOKEN="t0ken-for-tests", METRICS_ALLOWED_NETWORKS=[])
def test_metrics_expose_alerts_incidents_and_mttr(client: Client) -> None:
    now = timezone.now()
    _alert(now - dt.timedelta(minutes=10), now)
    owner = factories.UserFactory()
    incidents.incident_open(title="Open one", severity="low", by=owner)
    body = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken-for-tests").content.decode()
    assert (
        'cloudexpress_security_alerts{rule="brute_force_ip",severity="high",status="open"} 1.0'
        in body
    )
    assert "cloudexpress_incidents_open 1.0" in body
    assert "cloudexpress_incident_mttr_seconds" in body
    # No alert closed yet: no false-positive ratio to give.
    assert "cloudexpress_security_alert_false_positive_ratio{" not in body


@override_settings(METRICS_TOKEN="t0ken-for-tests", METRICS_ALLOWED_NETWORKS=[])
def test_metrics_give_the_false_positive_ratio_per_rule(client: Client) -> None:
    from audit.detection import alerts as alert_services

    now = timezone.now()
    manager = factories.operator_member("admin")
    closed = [
        _alert(now - dt.timedelta(hours=hours), now - dt.timedelta(hours=hours))
        for hours in (1, 3, 5, 7)
    ]
    _alert(now - dt.timedelta(hours=9), now - dt.timedelta(hours=9))  # still open
    for alert, status in zip(
        closed, ["false_positive", "resolved", "resolved", "resolved"], strict=True
    ):
        alert_services.alert_status_change(alert=alert, status=status, by=manager)
    body = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken-for-tests").content.decode()
    assert 'cloudexpress_security_alert_false_positive_ratio{rule="brute_force_ip"} 0.25' in body
    assert alert_services.false_positive_rates()["brute_force_ip"]["rate"] == 0.25


def test_incident_through_the_api_from_alert_to_close(api_client) -> None:
    now = timezone.now()
    alert = _alert(now - dt.timedelta(minutes=20), now)
    api_client.force_authenticate(factories.UserFactory())
    refused = api_client.post(
        "/api/compliance/security/incidents", {"title": "x", "severity": "low"}, format="json"
    )
    assert refused.status_code == 403
    api_client.force_authenticate(factories.operator_member("admin"))
    created = api_client.post(
        "/api/compliance/security/incidents",
        {"title": "Bastion brute force", "severity": "high", "alert": str(alert.public_id)},
        format="json",
    )
    assert created.status_code == 201
    url = f"/api/compliance/security/incidents/{created.json()['id']}/actions"
    for phase in LATER:
        response = api_client.post(url, {"action": "phase", "phase": phase}, format="json")
        assert response.status_code == 200, response.json()
    early = api_client.post(url, {"action": "close"}, format="json")
    assert early.status_code == 409 and early.json()["code"] == "review_required"
    told = api_client.post(
        url,
        {
            "action": "communicate",
            "template": "resolution_notice",
            "recipients": ["customer@example.test"],
        },
        format="json",
    )
    assert told.status_code == 200
    api_client.post(url, {"action": "review", "summary": "Keys only."}, format="json")
    closed = api_client.post(url, {"action": "close"}, format="json")
    assert closed.json()["status"] == "closed"
    alert.refresh_from_db()
    assert alert.incident is not None and alert.incident.communications.count() == 1


def test_preferences_page_saves_choices_and_keeps_account_email(client: Client) -> None:
    user = factories.UserFactory()
    notifications.account_security_notify(user=user, event_kind="api_key_created", event_id=1)
    client.force_login(user)
    page = client.get("/security/notifications/")
    assert "A new API key was created" in page.content.decode()
    client.post("/security/notifications/", {"alert_raised-in_app": "on"})
    from audit.models import NotificationPreference

    chosen = {
        p.kind: (p.in_app, p.email) for p in NotificationPreference.objects.filter(user=user)
    }
    assert chosen["alert_raised"] == (True, False)
    assert chosen["reminder"] == (False, False)
    assert chosen["account_security"] == (False, True)
    assert not Notification.objects.filter(recipient=user, read_at=None).exists()
