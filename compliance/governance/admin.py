"""Django admin for every governance register."""

from __future__ import annotations

from django.contrib import admin

from compliance import models
from compliance.governance import services


class PolicyVersionInline(admin.TabularInline):
    model = models.PolicyVersion
    extra = 0
    fields = ("number", "summary_of_changes", "author", "approver", "approved_at")
    readonly_fields = ("approved_at",)
    raw_id_fields = ("author", "approver")


@admin.register(models.Policy)
class PolicyAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "owner", "required", "current_version", "last_reviewed_at")
    list_filter = ("kind", "required")
    search_fields = ("title",)
    list_select_related = ("owner", "current_version")
    raw_id_fields = ("owner", "current_version", "last_reviewed_by")
    inlines = [PolicyVersionInline]


@admin.register(models.PolicyVersion)
class PolicyVersionAdmin(admin.ModelAdmin):
    list_display = ("policy", "number", "author", "approver", "approved_at")
    list_select_related = ("policy", "author", "approver")
    raw_id_fields = ("policy", "author", "approver")


@admin.register(models.PolicyAcknowledgement)
class PolicyAcknowledgementAdmin(admin.ModelAdmin):
    list_display = ("version", "user", "acknowledged_at")
    list_select_related = ("version__policy", "user")
    raw_id_fields = ("version", "user")


@admin.register(models.TrainingModule)
class TrainingModuleAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "assign_on_joining", "due_days", "recurrence_days")
    list_filter = ("kind", "is_active")
    filter_horizontal = ("roles",)


@admin.register(models.TrainingAssignment)
class TrainingAssignmentAdmin(admin.ModelAdmin):
    list_display = ("module", "user", "reason", "due_at", "completed_at")
    list_filter = ("reason", "module")
    list_select_related = ("module", "user")
    raw_id_fields = ("user",)


@admin.register(models.TrainingCompletion)
class TrainingCompletionAdmin(admin.ModelAdmin):
    list_display = ("module", "user", "completed_at", "score")
    list_filter = ("module",)
    list_select_related = ("module", "user")
    raw_id_fields = ("user",)


class VendorAssessmentInline(admin.StackedInline):
    model = models.VendorAssessment
    extra = 0
    raw_id_fields = ("assessor",)


class VendorAgreementInline(admin.TabularInline):
    model = models.VendorAgreement
    extra = 0


@admin.register(models.Vendor)
class VendorAdmin(admin.ModelAdmin):
    list_display = ("name", "classification", "risk_rating", "owner", "status")
    list_filter = ("classification", "risk_rating", "status")
    search_fields = ("name", "service")
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    inlines = [VendorAssessmentInline, VendorAgreementInline]


@admin.register(models.VendorAssessment)
class VendorAssessmentAdmin(admin.ModelAdmin):
    list_display = ("vendor", "assessed_at", "assessor", "risk_rating")
    list_select_related = ("vendor", "assessor")
    raw_id_fields = ("assessor",)


@admin.register(models.VendorComplianceReport)
class VendorComplianceReportAdmin(admin.ModelAdmin):
    list_display = ("vendor", "kind", "issued_on", "expires_on", "sha256")
    list_filter = ("kind",)
    list_select_related = ("vendor",)
    readonly_fields = ("sha256",)

    def save_model(
        self, request: object, obj: models.VendorComplianceReport, form: object, change: bool
    ) -> None:
        # A report uploaded here gets the same digest as one attached through
        # the service, so an auditor can verify either copy.
        if obj.file and "file" in getattr(form, "changed_data", ()):
            obj.sha256 = services.file_sha256(obj.file)
        super().save_model(request, obj, form, change)


@admin.register(models.VendorIncident)
class VendorIncidentAdmin(admin.ModelAdmin):
    list_display = ("vendor", "notified_at", "severity", "personal_data_affected", "resolved_at")
    list_filter = ("severity", "personal_data_affected")
    list_select_related = ("vendor",)


class VendorContractReviewInline(admin.TabularInline):
    model = models.VendorContractReview
    extra = 0
    raw_id_fields = ("reviewer",)


@admin.register(models.VendorAgreement)
class VendorAgreementAdmin(admin.ModelAdmin):
    list_display = ("vendor", "kind", "reference", "signed_on", "renewal_on", "terminated_on")
    list_filter = ("kind",)
    list_select_related = ("vendor",)
    inlines = [VendorContractReviewInline]


@admin.register(models.VendorContractReview)
class VendorContractReviewAdmin(admin.ModelAdmin):
    list_display = ("agreement", "reviewed_at", "reviewer", "outcome")
    list_select_related = ("agreement__vendor", "reviewer")
    raw_id_fields = ("agreement", "reviewer")


@admin.register(models.DataDisclosure)
class DataDisclosureAdmin(admin.ModelAdmin):
    list_display = (
        "vendor",
        "disclosed_at",
        "data_categories",
        "consent_purpose",
        "consent_reference",
    )
    list_select_related = ("vendor",)
    search_fields = ("consent_reference", "purpose")
    raw_id_fields = ("recorded_by",)


@admin.register(models.Risk)
class RiskAdmin(admin.ModelAdmin):
    list_display = ("title", "likelihood", "impact", "treatment", "owner", "last_reviewed_at")
    list_filter = ("treatment", "status", "category")
    search_fields = ("title",)
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)


class DeploymentInline(admin.TabularInline):
    model = models.Deployment
    extra = 0
    fields = ("environment", "commit", "pipeline_run", "deployed_at")


@admin.register(models.ChangeRequest)
class ChangeRequestAdmin(admin.ModelAdmin):
    list_display = ("title", "risk", "status", "author", "approver", "approved_at")
    list_filter = ("status", "risk")
    search_fields = ("title",)
    list_select_related = ("author", "approver")
    raw_id_fields = ("author", "reviewer", "approver")
    inlines = [DeploymentInline]


@admin.register(models.Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ("environment", "commit", "change", "deployed_at", "recorded_by")
    list_filter = ("environment",)
    list_select_related = ("change", "recorded_by")
    raw_id_fields = ("change", "recorded_by")


class DisasterRecoveryTestInline(admin.TabularInline):
    model = models.DisasterRecoveryTest
    extra = 0
    raw_id_fields = ("conducted_by",)


class EmergencyContactInline(admin.TabularInline):
    model = models.EmergencyContact
    extra = 0


@admin.register(models.DisasterRecoveryPlan)
class DisasterRecoveryPlanAdmin(admin.ModelAdmin):
    list_display = ("name", "rto_minutes", "rpo_minutes", "owner", "approved_at")
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    inlines = [DisasterRecoveryTestInline, EmergencyContactInline]


@admin.register(models.DisasterRecoveryTest)
class DisasterRecoveryTestAdmin(admin.ModelAdmin):
    list_display = ("plan", "kind", "performed_at", "measured_rto_minutes", "measured_rpo_minutes")
    list_select_related = ("plan",)
    raw_id_fields = ("conducted_by",)


@admin.register(models.EmergencyContact)
class EmergencyContactAdmin(admin.ModelAdmin):
    list_display = ("name", "role", "phone", "email", "escalation_order", "plan")
    list_select_related = ("plan",)


class AuditFindingInline(admin.TabularInline):
    model = models.AuditFinding
    extra = 0
    raw_id_fields = ("owner",)


@admin.register(models.InternalAudit)
class InternalAuditAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "period_start", "period_end", "status", "lead")
    list_filter = ("kind", "status")
    list_select_related = ("lead",)
    raw_id_fields = ("lead",)
    inlines = [AuditFindingInline]


@admin.register(models.AuditFinding)
class AuditFindingAdmin(admin.ModelAdmin):
    list_display = ("title", "audit", "severity", "owner", "due_on", "closed_at")
    list_filter = ("severity",)
    list_select_related = ("audit", "owner")
    raw_id_fields = ("owner",)


@admin.register(models.Walkthrough)
class WalkthroughAdmin(admin.ModelAdmin):
    list_display = ("control", "auditor_name", "presenter", "scheduled_at", "status")
    list_filter = ("status",)
    list_select_related = ("presenter",)
    raw_id_fields = ("presenter",)


@admin.register(models.Reminder)
class ReminderAdmin(admin.ModelAdmin):
    """The sent-log is evidence: read it, never edit it."""

    list_display = ("kind", "object_id", "due_on", "recipient", "sent_at")
    list_filter = ("kind",)
    list_select_related = ("recipient",)

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
