"""Which governance models the audit trail follows."""

from __future__ import annotations


def register_models() -> None:
    from auditlog.registry import auditlog

    from compliance import models

    # Every register an auditor samples; the reminder log is a send log and
    # its rows are the evidence themselves, so it is followed too.
    for model in (
        models.Policy,
        models.PolicyVersion,
        models.PolicyAcknowledgement,
        models.TrainingModule,
        models.TrainingAssignment,
        models.TrainingCompletion,
        models.Vendor,
        models.VendorAssessment,
        models.VendorComplianceReport,
        models.VendorIncident,
        models.VendorAgreement,
        models.VendorContractReview,
        models.DataDisclosure,
        models.Risk,
        models.ChangeRequest,
        models.Deployment,
        models.DisasterRecoveryPlan,
        models.DisasterRecoveryTest,
        models.EmergencyContact,
        models.InternalAudit,
        models.AuditFinding,
        models.Walkthrough,
        models.Reminder,
    ):
        # Links to roles and to the engine's controls are changes an auditor
        # samples like any other field.
        m2m = {models.TrainingModule: {"roles"}, models.Risk: {"controls"}}.get(model)
        if m2m:
            auditlog.register(model, m2m_fields=m2m)
        else:
            auditlog.register(model)


def governance_ready() -> None:
    """Wire the governance package into the app: audit trail, admin, tasks.

    Called from ``ComplianceConfig.ready``. The admin and task modules live
    in this package, where Django's and Celery's autodiscovery do not look.
    """
    register_models()
    from compliance.governance import admin, tasks  # noqa: F401
