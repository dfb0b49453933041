from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance"

    def ready(self) -> None:
        from compliance.governance.registration import governance_ready

        governance_ready()
        from auditlog.registry import auditlog

        from compliance.models import (
            ActionItem,
            Attestation,
            AuditLiaison,
            Category,
            Control,
            Criterion,
            Framework,
        )

        # The engine's own outputs (runs, results, scores) are not audited:
        # they are written once and never edited. What people edit is.
        auditlog.register(Framework)
        auditlog.register(Category)
        auditlog.register(Criterion)
        auditlog.register(Control, m2m_fields={"criteria"})
        auditlog.register(Attestation)
        auditlog.register(ActionItem)
        # Who answers the auditors is a setting an auditor asks about.
        auditlog.register(AuditLiaison)
        from compliance.privacy import registration

        registration.register()
