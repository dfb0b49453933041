"""Django admin for what an admin manages here: policies and legal holds."""

from __future__ import annotations

from django.contrib import admin

from compliance.models import (
    ConsentPurpose,
    ConsentPurposeVersion,
    DataSubjectRequest,
    LegalHold,
    PrivacyNotice,
    RetentionPolicy,
    RetentionRun,
)


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    list_display = ["data_type", "amount", "unit", "archive_before_delete", "updated_at"]
    readonly_fields = ["data_type", "updated_at"]


@admin.register(LegalHold)
class LegalHoldAdmin(admin.ModelAdmin):
    list_display = ["public_id", "scope", "data_type", "owner", "created_at", "released_at"]
    list_select_related = ["owner"]
    raw_id_fields = ["user", "organization", "owner"]


@admin.register(RetentionRun)
class RetentionRunAdmin(admin.ModelAdmin):
    list_display = ["public_id", "status", "started_at", "finished_at"]

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(DataSubjectRequest)
class DataSubjectRequestAdmin(admin.ModelAdmin):
    list_display = ["public_id", "kind", "status", "received_at", "due_at", "completed_at"]


admin.site.register(ConsentPurpose)
admin.site.register(ConsentPurposeVersion)
admin.site.register(PrivacyNotice)
