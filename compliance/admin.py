"""What an officer manages in Django admin: controls, attestations, gaps and
the catalog (read-only: a catalog version never changes once results
point at it)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils import timezone

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


class AttestationAdminForm(forms.ModelForm):
    class Meta:
        model = Attestation
        fields = ("control", "statement", "file", "classification", "expires_at")

    def clean_expires_at(self) -> Any:
        expires_at = self.cleaned_data["expires_at"]
        if expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError("An attestation must expire in the future.")
        return expires_at


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
    # Who attested is whoever adds it, never chosen from a list, and the
    # file's name is the uploaded file's, never typed in; the review goes
    # through the service (the action below) so nobody reviews their own.
    readonly_fields = (
        "attested_by",
        "file_name",
        "sha256",
        "size",
        "reviewed_by",
        "reviewed_at",
        "created_at",
    )
    actions = ("review_selected",)
    form = AttestationAdminForm

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A reviewed attestation is what its reviewer saw: it is shown, not
        # changed (a new file or expiry is a new attestation).
        if obj is not None and obj.reviewed_at is not None:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Attestation, form: Any, change: bool) -> None:
        if change and Attestation.objects.filter(pk=obj.pk, reviewed_at__isnull=False).exists():
            raise PermissionDenied("A reviewed attestation cannot be changed.")
        if not change:
            obj.attested_by = request.user
        # The digest is always taken from the stored bytes, never typed in.
        if "file" in form.changed_data or not obj.sha256:
            obj.sha256, obj.size = attestations._digest(obj.file)
            obj.file_name = obj.file.name.rsplit("/", 1)[-1][:200]
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
