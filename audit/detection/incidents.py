"""Incidents through their phases, their communications, MTTD and MTTR."""

from __future__ import annotations

import datetime as dt
import logging
import string
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from accounts.models import User
from audit.detection import types
from audit.models import (
    Alert,
    AlertEvent,
    Incident,
    IncidentCommunication,
    IncidentEventLink,
    IncidentPhase,
    SecurityEvent,
)
from audit.services import security_event_record
from cloudexpress.api.exceptions import ServiceError

logger = logging.getLogger(__name__)

Phase = Incident.Phase
PHASE_ORDER: list[str] = [
    Phase.DETECTION,
    Phase.ANALYSIS,
    Phase.CONTAINMENT,
    Phase.ERADICATION,
    Phase.RECOVERY,
    Phase.LESSONS_LEARNED,
]

# Communication templates: ${...} fields come from the incident and the
# caller; string.Template never evaluates anything, so a title typed by a
# person cannot reach code.
COMMUNICATION_TEMPLATES: dict[str, dict[str, str]] = {
    "internal_initial": {
        "audience": IncidentCommunication.Audience.INTERNAL,
        "subject": "Security incident opened: ${title}",
        "body": (
            "A ${severity} security incident was opened at ${detected_at}.\n"
            "Owner: ${owner}. Current phase: ${phase}.\n"
            "Do not discuss it outside the response channel.\n${note}"
        ),
    },
    "customer_notice": {
        "audience": IncidentCommunication.Audience.CUSTOMERS,
        "subject": "Security notice from CloudExpress",
        "body": (
            "We detected a security incident on ${detected_at} that may affect your "
            "account. We contained it and are investigating. We will write again when we "
            "know more.\n${note}"
        ),
    },
    "resolution_notice": {
        "audience": IncidentCommunication.Audience.CUSTOMERS,
        "subject": "Security incident resolved",
        "body": (
            "The security incident we told you about on ${detected_at} is resolved as of "
            "${resolved_at}.\n${note}"
        ),
    },
}


def _record(incident: Incident, by: User | None, what: str, **extra: Any) -> None:
    security_event_record(
        event_type=types.INCIDENT_CHANGED,
        actor=by,
        detail={"incident": str(incident.public_id), "change": what, **extra},
    )


@transaction.atomic
def incident_open(
    *,
    title: str,
    severity: str,
    by: User | None,
    owner: User | None = None,
    alert: Alert | None = None,
    description: str = "",
    started_at: dt.datetime | None = None,
) -> Incident:
    """Open an incident, by hand or from an alert (whose events it inherits)."""
    now = timezone.now()
    if alert is not None:
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if alert.incident_id is not None:
            raise ServiceError(
                "This alert already belongs to an incident.", code="conflict", status_code=409
            )
        started_at = started_at or alert.first_event_at
    detected_at = alert.created_at if alert is not None else now
    incident = Incident.objects.create(
        title=title[:200],
        description=description,
        severity=severity,
        owner=owner or by,
        opened_by=by,
        started_at=min(started_at or detected_at, detected_at),
        detected_at=detected_at,
        created_at=now,
    )
    IncidentPhase.objects.create(
        incident=incident, phase=Phase.DETECTION, started_at=detected_at, owner=owner or by
    )
    if alert is not None:
        Alert.objects.filter(pk=alert.pk).update(incident=incident)
    _record(incident, by, "opened")
    transaction.on_commit(lambda: _notify(incident, "Incident opened"))
    return incident


def _notify(incident: Incident, change: str) -> None:
    from audit.detection import notifications

    notifications.incident_notify(incident=incident, change=change)


@transaction.atomic
def incident_alert_link(*, incident: Incident, alert: Alert, by: User | None) -> None:
    Alert.objects.filter(pk=alert.pk).update(incident=incident)
    earliest = min(incident.started_at, alert.first_event_at)
    Incident.objects.filter(pk=incident.pk).update(started_at=earliest)
    _record(incident, by, "alert_linked", alert=str(alert.public_id))


@transaction.atomic
def incident_event_link(*, incident: Incident, event_id: int, by: User | None) -> None:
    occurred = SecurityEvent.objects.filter(pk=event_id).values_list("occurred_at", flat=True)
    if not occurred:
        raise ServiceError("No such event.", code="not_found", status_code=404)
    IncidentEventLink.objects.get_or_create(
        incident=incident, event_id=event_id, defaults={"occurred_at": occurred[0]}
    )
    if occurred[0] < incident.started_at:
        Incident.objects.filter(pk=incident.pk).update(started_at=occurred[0])


@transaction.atomic
def incident_phase_advance(
    *,
    incident: Incident,
    phase: str,
    by: User,
    owner: User | None = None,
    notes: str = "",
    at: dt.datetime | None = None,
) -> Incident:
    """Complete the current phase and start ``phase`` (forward only)."""
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if incident.status == Incident.Status.CLOSED:
        raise ServiceError("The incident is closed.", code="closed", status_code=409)
    if phase not in PHASE_ORDER or PHASE_ORDER.index(phase) <= PHASE_ORDER.index(incident.phase):
        raise ServiceError(
            f"An incident in {incident.phase} cannot move to {phase}.",
            code="invalid_transition",
            status_code=409,
        )
    now = at or timezone.now()
    IncidentPhase.objects.filter(incident=incident, phase=incident.phase).update(completed_at=now)
    IncidentPhase.objects.create(
        incident=incident, phase=phase, started_at=now, owner=owner or by, notes=notes
    )
    # Recovery finished means service is restored: MTTR ends there.
    if phase == Phase.LESSONS_LEARNED:
        incident.resolved_at = incident.resolved_at or now
    incident.phase = phase
    incident.save(update_fields=["phase", "resolved_at"])
    _record(incident, by, "phase", phase=phase)
    transaction.on_commit(lambda: _notify(incident, f"Phase is now {phase}"))
    return incident


@transaction.atomic
def incident_phase_note(*, incident: Incident, by: User, notes: str) -> IncidentPhase:
    current = IncidentPhase.objects.select_for_update().get(
        incident=incident, phase=incident.phase
    )
    current.notes = f"{current.notes}\n{notes}".strip() if current.notes else notes
    current.save(update_fields=["notes"])
    return current


@transaction.atomic
def incident_review_record(*, incident: Incident, by: User, summary: str) -> Incident:
    if not summary.strip():
        raise ServiceError("The review needs a summary.", code="invalid")
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    incident.review_summary = summary
    incident.reviewed_by = by
    incident.reviewed_at = timezone.now()
    incident.save(update_fields=["review_summary", "reviewed_by", "reviewed_at"])
    _record(incident, by, "reviewed")
    return incident


@transaction.atomic
def incident_close(*, incident: Incident, by: User) -> Incident:
    """Close an incident; refused until lessons learned and a review exist."""
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if incident.phase != Phase.LESSONS_LEARNED:
        raise ServiceError(
            "An incident closes from Lessons learned only.",
            code="phase_incomplete",
            status_code=409,
        )
    if incident.reviewed_at is None:
        raise ServiceError(
            "A post-incident review is required before closing.",
            code="review_required",
            status_code=409,
        )
    now = timezone.now()
    IncidentPhase.objects.filter(incident=incident, phase=incident.phase).update(completed_at=now)
    incident.status = Incident.Status.CLOSED
    incident.closed_at = now
    incident.save(update_fields=["status", "closed_at"])
    _record(incident, by, "closed")
    transaction.on_commit(lambda: _notify(incident, "Incident closed"))
    return incident


def incident_communication_send(
    *,
    incident: Incident,
    template: str,
    recipients: list[str],
    by: User,
    note: str = "",
) -> IncidentCommunication:
    """Send a templated message and keep who was told what, and when."""
    spec = COMMUNICATION_TEMPLATES.get(template)
    if spec is None:
        raise ServiceError(f"No template {template!r}.", code="invalid")
    if not recipients:
        raise ServiceError("Name at least one recipient.", code="invalid")
    values = {
        "title": incident.title,
        "severity": incident.get_severity_display(),
        "phase": incident.get_phase_display(),
        "owner": incident.owner.get_full_name() if incident.owner else "unassigned",
        "detected_at": f"{incident.detected_at:%Y-%m-%d %H:%M} UTC",
        "resolved_at": f"{incident.resolved_at:%Y-%m-%d %H:%M} UTC"
        if incident.resolved_at
        else "not yet",
        "note": note,
    }
    subject = string.Template(spec["subject"]).safe_substitute(values)
    body = string.Template(spec["body"]).safe_substitute(values).strip()
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)
    communication = IncidentCommunication.objects.create(
        incident=incident,
        template=template,
        audience=spec["audience"],
        recipients=", ".join(recipients),
        subject=subject[:200],
        body=body,
        sent_by=by,
    )
    _record(incident, by, "communication", template=template, recipients=len(recipients))
    return communication


# --- reads ------------------------------------------------------------------


def incident_timeline(incident: Incident) -> list[dict[str, Any]]:
    """Phases, alerts, linked events and communications, in time order."""
    entries: list[dict[str, Any]] = []
    for phase in incident.phases.select_related("owner"):
        entries.append(
            {
                "at": phase.started_at,
                "kind": "phase",
                "text": phase.get_phase_display(),
                "notes": phase.notes,
                "owner": phase.owner,
            }
        )
    alerts = list(incident.alerts.all())
    for alert in alerts:
        entries.append(
            {"at": alert.created_at, "kind": "alert", "text": alert.title, "alert": alert}
        )
    event_ids = set(
        AlertEvent.objects.filter(alert__in=alerts).values_list("event_id", flat=True)[:500]
    )
    event_ids |= set(incident.event_links.values_list("event_id", flat=True))
    events = SecurityEvent.objects.filter(pk__in=event_ids).order_by("occurred_at")[:500]
    for event in events:
        entries.append(
            {"at": event.occurred_at, "kind": "event", "text": event.event_type, "event": event}
        )
    for communication in incident.communications.select_related("sent_by"):
        entries.append(
            {
                "at": communication.sent_at,
                "kind": "communication",
                "text": communication.subject,
                "communication": communication,
            }
        )
    entries.sort(key=lambda entry: entry["at"])
    return entries


def response_times(month: dt.date) -> dict[str, Any]:
    """MTTD and MTTR of incidents detected in ``month``, in minutes."""
    start = dt.datetime(month.year, month.month, 1, tzinfo=dt.UTC)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    rows = list(
        Incident.objects.filter(detected_at__gte=start, detected_at__lt=end).values_list(
            "started_at", "detected_at", "resolved_at"
        )
    )
    detect = [(d - s).total_seconds() / 60 for s, d, _ in rows]
    respond = [(r - d).total_seconds() / 60 for _, d, r in rows if r is not None]
    return {
        "month": start.date(),
        "incidents": len(rows),
        "resolved": len(respond),
        "mttd_minutes": round(sum(detect) / len(detect), 1) if detect else None,
        "mttr_minutes": round(sum(respond) / len(respond), 1) if respond else None,
    }


def incident_months() -> list[dt.date]:
    first = Incident.objects.aggregate(first=Min("detected_at"))["first"]
    today = timezone.now().date().replace(day=1)
    if first is None:
        return [today]
    months = []
    current = first.date().replace(day=1)
    while current <= today:
        months.append(current)
        current = (current + dt.timedelta(days=32)).replace(day=1)
    return months[::-1]
