"""Models of the compliance app, one module per concept."""

from compliance.models.catalog import (
    Category,
    Criterion,
    Framework,
)
from compliance.models.controls import (
    DUE_DAYS,
    Attestation,
    Classification,
    Control,
    Severity,
)
from compliance.models.evidence_room import (
    AuditLiaison,
    EvidenceRequest,
    EvidenceResponseFile,
)
from compliance.models.governance import (
    AuditFinding,
    ChangeRequest,
    DataDisclosure,
    Deployment,
    DisasterRecoveryPlan,
    DisasterRecoveryTest,
    EmergencyContact,
    InternalAudit,
    Policy,
    PolicyAcknowledgement,
    PolicyVersion,
    Reminder,
    Risk,
    TrainingAssignment,
    TrainingCompletion,
    TrainingModule,
    Vendor,
    VendorAgreement,
    VendorAssessment,
    VendorComplianceReport,
    VendorContractReview,
    VendorIncident,
    Walkthrough,
)
from compliance.models.jobs import (
    JobRun,
)
from compliance.models.privacy import *  # noqa: F403  (the privacy models, by their __all__)
from compliance.models.privacy import __all__ as _privacy_all
from compliance.models.reports import (
    ReportPack,
)
from compliance.models.runs import (
    ActionItem,
    CategoryScore,
    ControlScore,
    Coverage,
    CriterionScore,
    Result,
    ResultStatus,
    Run,
)

__all__ = [
    "AuditLiaison",
    "EvidenceRequest",
    "EvidenceResponseFile",
    "ActionItem",
    "Attestation",
    "AuditFinding",
    "Category",
    "CategoryScore",
    "ChangeRequest",
    "Classification",
    "Control",
    "ControlScore",
    "Coverage",
    "Criterion",
    "CriterionScore",
    "DUE_DAYS",
    "DataDisclosure",
    "Deployment",
    "DisasterRecoveryPlan",
    "DisasterRecoveryTest",
    "EmergencyContact",
    "Framework",
    "InternalAudit",
    "JobRun",
    "Policy",
    "PolicyAcknowledgement",
    "PolicyVersion",
    "Reminder",
    "ReportPack",
    "Result",
    "ResultStatus",
    "Risk",
    "Run",
    "Severity",
    "TrainingAssignment",
    "TrainingCompletion",
    "TrainingModule",
    "Vendor",
    "VendorAgreement",
    "VendorAssessment",
    "VendorComplianceReport",
    "VendorContractReview",
    "VendorIncident",
    "Walkthrough",
]
__all__ += _privacy_all
