"""Pages: alerts, an alert with its scored events, incidents, notifications."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from accounts.models import User
from audit.detection import alerts as alert_services
from audit.detection import incidents, notifications, selectors
from audit.detection.permissions import user_has_permission
from audit.models import Alert, Incident, Notification, NotificationPreference


def _require(request: HttpRequest, code: str) -> None:
    if not user_has_permission(request.user, code):
        raise PermissionDenied


@login_required
def alert_list(request: HttpRequest) -> HttpResponse:
    _require(request, "security_events.view")
    alerts = list(selectors.alerts_active()[:100])
    return render(
        request,
        "detection/alert_list.html",
        {"alerts": alerts, "rates": alert_services.false_positive_rates()},
    )


@login_required
def alert_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    _require(request, "security_events.view")
    alert = get_object_or_404(
        Alert.objects.select_related("owner", "subject_user", "incident"), public_id=public_id
    )
    return render(
        request,
        "detection/alert_detail.html",
        {
            "alert": alert,
            "events": selectors.alert_events(alert),
            "containment": selectors.alert_containment(alert),
        },
    )


def _month(value: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        return None


@login_required
def incident_list(request: HttpRequest) -> HttpResponse:
    _require(request, "security_events.view")
    months = incidents.incident_months()
    month = _month(request.GET.get("month", "")) or months[0]
    return render(
        request,
        "detection/incident_list.html",
        {
            "incidents": list(
                Incident.objects.select_related("owner").order_by("-detected_at")[:100]
            ),
            "months": months,
            "month": month,
            "times": incidents.response_times(month),
        },
    )


@login_required
def incident_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    _require(request, "security_events.view")
    incident = get_object_or_404(Incident.objects.select_related("owner"), public_id=public_id)
    return render(
        request,
        "detection/incident_detail.html",
        {
            "incident": incident,
            "phases": list(incident.phases.select_related("owner")),
            "timeline": incidents.incident_timeline(incident),
            "communications": list(incident.communications.select_related("sent_by")),
        },
    )


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    """The user's own notifications and their preferences per kind."""
    user = request.user
    assert isinstance(user, User)
    if request.method == "POST":
        for kind, _label in Notification.Kind.choices:
            notifications.preference_set(
                user=user,
                kind=kind,
                in_app=request.POST.get(f"{kind}-in_app") == "on",
                email=request.POST.get(f"{kind}-email") == "on",
            )
        Notification.objects.filter(recipient=user, read_at=None).update(read_at=timezone.now())
        return redirect("security-notifications")
    stored = {
        p.kind: (p.in_app, p.email) for p in NotificationPreference.objects.filter(user=user)
    }
    rows = [
        {
            "kind": kind,
            "label": label,
            # Without a stored choice, both channels are on.
            "in_app": stored.get(kind, (True, True))[0],
            "email": stored.get(kind, (True, True))[1],
            "email_locked": kind == Notification.Kind.ACCOUNT_SECURITY,
        }
        for kind, label in Notification.Kind.choices
    ]
    return render(
        request,
        "detection/notification_list.html",
        {
            "notifications": list(user.notifications.order_by("-created_at")[:100]),
            "preferences": rows,
        },
    )
