"""What an officer manages in Django admin: controls, attestations, gaps and
the catalog (read-only: a catalog version never changes once results
point at it)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from cloudexpress.api.exceptions import ServiceError
from compliance import attestations
from compliance.models import ActionItem, Attestation, Control, Criterion, Framework, Run


@admin.register(Framework)
class FrameworkAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "is_current", "imported_at")
    readonly_fields = ("code", "version", "name", "source", "content_sha256", "imported_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Criterion)
class CriterionAdmin(admin.ModelAdmin):
    list_display = ("code", "title", "framework")
    list_filter = ("framework", "category__code")
    search_fields = ("code", "title")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Control)
class ControlAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "document_label", "owner_title", "severity", "is_active")
    list_filter = ("severity", "is_active", "requires_attestation")
    search_fields = ("code", "name", "document_label", "description")
    filter_horizontal = ("criteria",)


@admin.register(Attestation)
class AttestationAdmin(admin.ModelAdmin):
    list_display = (
        "control",
        "file_name",
        "classification",
        "attested_by",
        "reviewed_by",
        "expires_at",
    )
    list_filter = ("classification",)
    # Who attested is whoever adds it, never chosen from a list; the review
    # goes through the service (the action below) so nobody reviews their own.
    readonly_fields = ("attested_by", "sha256", "size", "reviewed_by", "reviewed_at", "created_at")
    actions = ("review_selected",)

    def save_model(self, request: HttpRequest, obj: Attestation, form: Any, change: bool) -> None:
        if not change:
            obj.attested_by = request.user
        # The digest is always taken from the stored bytes, never typed in.
        if "file" in form.changed_data or not obj.sha256:
            obj.sha256, obj.size = attestations._digest(obj.file)
            obj.file_name = obj.file_name or obj.file.name.rsplit("/", 1)[-1]
        super().save_model(request, obj, form, change)

    @admin.action(description="Review the selected attestations", permissions=["change"])
    def review_selected(self, request: HttpRequest, queryset: Any) -> None:
        reviewed = 0
        for attestation in queryset:
            try:
                attestations.attestation_review(attestation=attestation, reviewer=request.user)
            except ServiceError as exc:
                self.message_user(
                    request, f"{attestation.file_name}: {exc.detail}", level=messages.ERROR
                )
            else:
                reviewed += 1
        if reviewed:
            self.message_user(request, f"{reviewed} attestation(s) reviewed.")


@admin.register(ActionItem)
class ActionItemAdmin(admin.ModelAdmin):
    list_display = ("control", "status", "owner_title", "severity", "due_at", "times_seen")
    list_filter = ("status", "severity")
    readonly_fields = ("opened_by_run", "last_failed_run", "closed_by_run", "times_seen")


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "started_at",
        "status",
        "scope",
        "score",
        "checks_passing",
        "checks_total",
    )
    list_filter = ("status", "scope")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
