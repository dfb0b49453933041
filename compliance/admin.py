"""What an officer manages in Django admin: controls, attestations, gaps and
the catalog (read-only: a catalog version never changes once results
point at it)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

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
    readonly_fields = ("sha256", "size", "reviewed_at", "created_at")
    exclude = ("reviewed_by",)

    def save_model(self, request: HttpRequest, obj: Attestation, form: Any, change: bool) -> None:
        # The digest is always taken from the stored bytes, never typed in;
        # the review goes through the service so nobody reviews their own.
        if "file" in form.changed_data or not obj.sha256:
            obj.sha256, obj.size = attestations._digest(obj.file)
            obj.file_name = obj.file_name or obj.file.name.rsplit("/", 1)[-1]
        super().save_model(request, obj, form, change)


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
