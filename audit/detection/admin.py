"""Django admin for detection: alerts, containment, incidents, threat
intelligence, notifications and the state the rules keep.

Almost everything here is evidence (what was detected, when, and what was
done about it), so it is read-only: no form can change a severity, a time,
an event link or a sent message. The few things an operator does from here
go through the same services the pages and the API call, so each is checked
and recorded as a security event: working an alert (acknowledge, resolve,
false positive, which feeds the per-rule false-positive rate) and reversing
a containment step. Notification preferences are the one editable register.

Detection data belongs to the operator organization: every queryset is
empty for a user who does not hold the permission there, whatever other
organization they administer.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.authorization import admin_permission_map_register, user_has_perm
from audit.detection import alerts as alert_services
from audit.detection.containment import containment_reverse
from audit.detection.permissions import operator_organization_id
from audit.models import (
    Alert,
    AlertEvent,
    BlockedAddress,
    ContainmentAction,
    DetectionCursor,
    Incident,
    IncidentCommunication,
    IncidentEventLink,
    IncidentPhase,
    IngestedLine,
    Notification,
    NotificationPreference,
    SignInProfileEntry,
    ThreatIndicator,
)
from cloudexpress.api.exceptions import ServiceError

VIEW = "security_events.view"
WORK = "incidents.manage"

# Which catalog code each admin action needs, checked in the operator
# organization (accounts.authorization.AuthorizationBackend).
for _model in (
    Alert,
    AlertEvent,
    BlockedAddress,
    ContainmentAction,
    DetectionCursor,
    IngestedLine,
    Incident,
    IncidentCommunication,
    IncidentEventLink,
    IncidentPhase,
    Notification,
    SignInProfileEntry,
    ThreatIndicator,
):
    admin_permission_map_register("audit", str(_model._meta.model_name), {"view": VIEW, "*": WORK})
admin_permission_map_register(
    "audit", "notificationpreference", {"view": VIEW, "*": "settings.manage"}
)


def _holds(request: HttpRequest, code: str) -> bool:
    operator_id = operator_organization_id()
    if operator_id is None:
        return False
    return user_has_perm(request.user, code, operator_id, record_denial=False)


class OperatorScopedAdmin(admin.ModelAdmin):
    """Rows only for holders of the view permission in the operator
    organization; the permission map already keeps others out of the pages,
    and this keeps them out of every queryset admin builds (autocomplete,
    related lookups, inlines) too."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        return queryset if _holds(request, VIEW) else queryset.none()


class EvidenceAdmin(OperatorScopedAdmin):
    """Browse, search and filter; nothing is added, changed or deleted."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_work_permission(self, request: HttpRequest) -> bool:
        """For the actions that go through a service."""
        return _holds(request, WORK)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ContainmentInline(ReadOnlyInline):
    model = ContainmentAction
    fields = ("kind", "state", "user", "blocked_address", "applied_at", "reversed_at")
    readonly_fields = fields


def _alert_status_action(status: str, label: str) -> Any:
    def action(modeladmin: AlertAdmin, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        changed = 0
        for alert in queryset:
            try:
                alert_services.alert_status_change(
                    alert=alert,
                    status=status,
                    by=request.user,  # type: ignore[arg-type]
                    note="Set in Django admin.",
                )
            except ServiceError as exc:
                modeladmin.message_user(request, f"{alert}: {exc.detail}", messages.WARNING)
            else:
                changed += 1
        if changed:
            modeladmin.message_user(request, f"{changed} alert(s) marked {label.lower()}.")

    action.__name__ = f"mark_{status}"
    return admin.action(description=f"Mark as {label.lower()}", permissions=["work"])(action)


@admin.register(Alert)
class AlertAdmin(EvidenceAdmin):
    list_display = (
        "title",
        "rule",
        "severity",
        "status",
        "event_count",
        "source_ip",
        "subject_user",
        "owner",
        "last_event_at",
    )
    list_filter = ("status", "severity", "rule")
    search_fields = ("title", "key", "source_ip", "subject_label", "=public_id")
    list_select_related = ("subject_user", "owner")
    date_hierarchy = "last_event_at"
    inlines = [ContainmentInline]
    actions = [
        _alert_status_action(Alert.Status.ACKNOWLEDGED, "Acknowledged"),
        _alert_status_action(Alert.Status.RESOLVED, "Resolved"),
        _alert_status_action(Alert.Status.FALSE_POSITIVE, "False positive"),
    ]


@admin.register(AlertEvent)
class AlertEventAdmin(EvidenceAdmin):
    list_display = ("alert", "event_id", "occurred_at")
    list_select_related = ("alert",)
    search_fields = ("=event_id",)
    raw_id_fields = ("alert",)


@admin.register(ContainmentAction)
class ContainmentActionAdmin(EvidenceAdmin):
    list_display = ("alert", "kind", "state", "user", "applied_at", "reversed_at", "reversed_by")
    list_filter = ("kind", "state")
    list_select_related = ("alert", "user", "reversed_by")
    actions = ["reverse"]

    @admin.action(description="Reverse the selected containment steps", permissions=["work"])
    def reverse(self, request: HttpRequest, queryset: QuerySet[ContainmentAction]) -> None:
        reversed_ = 0
        for action in queryset:
            try:
                containment_reverse(action=action, by=request.user)  # type: ignore[arg-type]
            except ServiceError as exc:
                self.message_user(request, f"{action.pk}: {exc.detail}", messages.WARNING)
            else:
                reversed_ += 1
        if reversed_:
            self.message_user(request, f"{reversed_} containment step(s) reversed.")


@admin.register(BlockedAddress)
class BlockedAddressAdmin(EvidenceAdmin):
    list_display = ("network", "reason", "created_at", "expires_at", "lifted_at", "lifted_by")
    list_filter = (("lifted_at", admin.EmptyFieldListFilter),)
    search_fields = ("network", "reason")
    list_select_related = ("lifted_by",)


class IncidentPhaseInline(ReadOnlyInline):
    model = IncidentPhase
    fields = ("phase", "started_at", "completed_at", "owner", "notes")
    readonly_fields = fields


class IncidentCommunicationInline(ReadOnlyInline):
    model = IncidentCommunication
    fields = ("template", "audience", "recipients", "subject", "sent_at", "sent_by")
    readonly_fields = fields


@admin.register(Incident)
class IncidentAdmin(EvidenceAdmin):
    list_display = (
        "title",
        "severity",
        "status",
        "phase",
        "owner",
        "detected_at",
        "resolved_at",
        "closed_at",
    )
    list_filter = ("status", "phase", "severity")
    search_fields = ("title", "=public_id")
    list_select_related = ("owner",)
    inlines = [IncidentPhaseInline, IncidentCommunicationInline]


@admin.register(IncidentPhase)
class IncidentPhaseAdmin(EvidenceAdmin):
    list_display = ("incident", "phase", "started_at", "completed_at", "owner")
    list_filter = ("phase",)
    list_select_related = ("incident", "owner")


@admin.register(IncidentEventLink)
class IncidentEventLinkAdmin(EvidenceAdmin):
    list_display = ("incident", "event_id", "occurred_at")
    list_select_related = ("incident",)


@admin.register(IncidentCommunication)
class IncidentCommunicationAdmin(EvidenceAdmin):
    list_display = ("incident", "template", "audience", "subject", "sent_at", "sent_by")
    list_filter = ("audience", "template")
    list_select_related = ("incident", "sent_by")


@admin.register(ThreatIndicator)
class ThreatIndicatorAdmin(EvidenceAdmin):
    # Loaded from a list file with its source and date (import_threat_list);
    # an edit here would make the stored list differ from its source.
    list_display = ("network", "category", "source", "listed_on", "imported_at")
    list_filter = ("source", "category")
    search_fields = ("network", "note")


@admin.register(Notification)
class NotificationAdmin(EvidenceAdmin):
    list_display = ("title", "recipient", "kind", "created_at", "read_at", "emailed_at")
    list_filter = ("kind", ("read_at", admin.EmptyFieldListFilter))
    list_select_related = ("recipient",)
    search_fields = ("title",)


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(OperatorScopedAdmin):
    list_display = ("user", "kind", "in_app", "email")
    list_filter = ("kind", "in_app", "email")
    list_select_related = ("user",)
    raw_id_fields = ("user",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Whose preference and for what is fixed once it exists.
        return ("user", "kind") if obj is not None else ()


@admin.register(SignInProfileEntry)
class SignInProfileEntryAdmin(EvidenceAdmin):
    list_display = ("subject", "feature", "value", "count", "last_seen_at")
    list_filter = ("feature",)
    search_fields = ("subject", "value")


@admin.register(DetectionCursor)
class DetectionCursorAdmin(EvidenceAdmin):
    list_display = ("name", "last_event_id", "last_occurred_at", "runs", "updated_at")


@admin.register(IngestedLine)
class IngestedLineAdmin(EvidenceAdmin):
    list_display = ("fingerprint", "event_id", "source", "ingested_at")
    list_filter = ("source",)
    search_fields = ("=fingerprint", "=event_id")
