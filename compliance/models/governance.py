"""Governance registers: policies, training, vendors, risks, changes,
continuity, internal audits and the reminder log.

These are the people-and-process controls an auditor samples. Each register
is read by a check in ``compliance.governance.checks``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

USER = settings.AUTH_USER_MODEL

# A year, for "within 12 months": 365 days keeps the arithmetic plain and is
# what auditors sample against (a leap year shortens the window by one day).
YEAR_DAYS = 365


def _refuse_self_approval(author_id: int | None, approver_id: int | None, what: str) -> None:
    """Form-level twin of the database constraint, so admin shows the error
    beside the field instead of failing the request."""
    if approver_id is not None and approver_id == author_id:
        raise ValidationError({"approver": f"The author of a {what} cannot approve it."})


def _public_id() -> models.UUIDField:
    return models.UUIDField(default=uuid.uuid4, unique=True, editable=False)


# --- Policies ----------------------------------------------------------------


class Policy(models.Model):
    """A policy document; its text lives in versions."""

    class Kind(models.TextChoices):
        PASSWORD = "password", "Password"
        ACCESS_CONTROL = "access_control", "Access control"
        DATA_CLASSIFICATION = "data_classification", "Data classification"
        INCIDENT_RESPONSE = "incident_response", "Incident response"
        ACCEPTABLE_USE = "acceptable_use", "Acceptable use"
        ENCRYPTION = "encryption", "Encryption"
        CHANGE_MANAGEMENT = "change_management", "Change management"
        BUSINESS_CONTINUITY = "business_continuity", "Business continuity"
        VENDOR_MANAGEMENT = "vendor_management", "Vendor management"
        PRIVACY = "privacy", "Privacy"
        RETENTION = "retention", "Retention"
        SECURITY_AWARENESS = "security_awareness", "Security awareness"

    public_id = _public_id()
    kind = models.CharField(max_length=40, choices=Kind.choices, unique=True)
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="owned_policies")
    # Required policies must be acknowledged by every active member.
    required = models.BooleanField(default=True)
    current_version = models.ForeignKey(
        "PolicyVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_period_days = models.PositiveIntegerField(default=YEAR_DAYS)
    last_reviewed_at = models.DateTimeField(null=True, blank=True)
    last_reviewed_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return self.title

    @property
    def review_due_at(self) -> datetime | None:
        if self.last_reviewed_at is None:
            return None
        return self.last_reviewed_at + timedelta(days=self.review_period_days)


class PolicyVersion(models.Model):
    """One approved text of a policy. The approver is never the author: a
    policy nobody else read is not approved."""

    public_id = _public_id()
    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    body = models.TextField()
    summary_of_changes = models.CharField(max_length=300, blank=True)
    author = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    approver = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["policy_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "number"], name="gov_policy_version_unique"),
            models.CheckConstraint(
                condition=Q(approver__isnull=True) | ~Q(approver=F("author")),
                name="gov_policy_version_approver_not_author",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} v{self.number}"

    def clean(self) -> None:
        super().clean()
        _refuse_self_approval(self.author_id, self.approver_id, "policy version")


class PolicyAcknowledgement(models.Model):
    version = models.ForeignKey(
        PolicyVersion, on_delete=models.CASCADE, related_name="acknowledgements"
    )
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="policy_acks")
    acknowledged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-acknowledged_at"]
        constraints = [
            models.UniqueConstraint(fields=["version", "user"], name="gov_policy_ack_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} acknowledged {self.version_id}"


# --- Security training -------------------------------------------------------


class TrainingModule(models.Model):
    class Kind(models.TextChoices):
        ONBOARDING = "onboarding", "Onboarding"
        ANNUAL_REFRESHER = "annual_refresher", "Annual refresher"
        ROLE_SPECIFIC = "role_specific", "Role-specific"
        INCIDENT_SIMULATION = "incident_simulation", "Incident simulation"
        SOC2_OVERVIEW = "soc2_overview", "SOC 2 overview"

    public_id = _public_id()
    code = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    description = models.TextField(blank=True)
    # Assigned to every new member, due this many days after joining.
    assign_on_joining = models.BooleanField(default=False)
    due_days = models.PositiveIntegerField(default=30)
    # Assigned to holders of these roles (role-specific training).
    roles = models.ManyToManyField("accounts.Role", blank=True, related_name="training_modules")
    # Repeat after this many days (the annual refresher); none: once.
    recurrence_days = models.PositiveIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class TrainingAssignment(models.Model):
    class Reason(models.TextChoices):
        JOINING = "joining", "On joining"
        ROLE = "role", "By role"
        RECURRENCE = "recurrence", "Recurring"
        MANUAL = "manual", "Assigned by hand"

    public_id = _public_id()
    module = models.ForeignKey(
        TrainingModule, on_delete=models.CASCADE, related_name="assignments"
    )
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="training_assignments")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    assigned_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at"]
        constraints = [
            # One assignment per module, person and due date: assigning twice
            # (a repeated job) creates nothing new.
            models.UniqueConstraint(
                fields=["module", "user", "due_at"], name="gov_training_assignment_unique"
            ),
        ]
        indexes = [models.Index(fields=["completed_at", "due_at"])]

    def __str__(self) -> str:
        return f"{self.module_id} for {self.user_id} by {self.due_at:%Y-%m-%d}"


class TrainingCompletion(models.Model):
    public_id = _public_id()
    module = models.ForeignKey(
        TrainingModule, on_delete=models.CASCADE, related_name="completions"
    )
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="training_completions")
    completed_at = models.DateTimeField(default=timezone.now)
    score = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(100)]
    )

    class Meta:
        ordering = ["-completed_at"]
        indexes = [models.Index(fields=["module", "user", "completed_at"])]

    def __str__(self) -> str:
        return f"{self.module_id} by {self.user_id} on {self.completed_at:%Y-%m-%d}"


# --- Vendors -----------------------------------------------------------------


class Classification(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal"
    CONFIDENTIAL = "confidential", "Confidential"
    RESTRICTED = "restricted", "Restricted"


class RiskRating(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class Vendor(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        OFFBOARDED = "offboarded", "Offboarded"

    public_id = _public_id()
    name = models.CharField(max_length=200, unique=True)
    service = models.CharField(max_length=300, help_text="What the vendor does for CloudExpress.")
    data_received = models.TextField(help_text="The data the vendor receives or processes.")
    classification = models.CharField(
        max_length=20, choices=Classification.choices, default=Classification.INTERNAL
    )
    owner = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="owned_vendors")
    risk_rating = models.CharField(
        max_length=20, choices=RiskRating.choices, default=RiskRating.MEDIUM
    )
    review_cadence_days = models.PositiveIntegerField(default=YEAR_DAYS)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class VendorAssessment(models.Model):
    """Due diligence: the security questionnaire and its outcome."""

    public_id = _public_id()
    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="assessments")
    assessed_at = models.DateTimeField(default=timezone.now)
    assessor = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    # Question id -> answer, as the vendor gave them.
    questionnaire = models.JSONField(default=dict, blank=True)
    risk_rating = models.CharField(max_length=20, choices=RiskRating.choices)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-assessed_at"]
        indexes = [models.Index(fields=["vendor", "assessed_at"])]

    def __str__(self) -> str:
        return f"{self.vendor_id} assessed {self.assessed_at:%Y-%m-%d}"


class VendorComplianceReport(models.Model):
    """A vendor's SOC 2 report, ISO certificate or pen-test letter. Past its
    expiry it proves nothing."""

    class Kind(models.TextChoices):
        SOC2_TYPE2 = "soc2_type2", "SOC 2 Type II"
        SOC1 = "soc1", "SOC 1"
        ISO27001 = "iso27001", "ISO/IEC 27001"
        PENTEST = "pentest", "Penetration test letter"
        OTHER = "other", "Other"

    public_id = _public_id()
    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="reports")
    assessment = models.ForeignKey(
        VendorAssessment, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    file = models.FileField(upload_to="governance/vendor-reports/", blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    issued_on = models.DateField()
    expires_on = models.DateField()

    class Meta:
        ordering = ["-expires_on"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.vendor_id} until {self.expires_on}"


class VendorIncident(models.Model):
    """An incident the vendor notified us of."""

    public_id = _public_id()
    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="incidents")
    occurred_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(default=timezone.now)
    severity = models.CharField(max_length=20, choices=RiskRating.choices)
    summary = models.TextField()
    personal_data_affected = models.BooleanField(default=False)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-notified_at"]

    def __str__(self) -> str:
        return f"{self.vendor_id} incident {self.notified_at:%Y-%m-%d}"


class VendorAgreement(models.Model):
    class Kind(models.TextChoices):
        DPA = "dpa", "Data processing agreement"
        CONTRACT = "contract", "Contract"
        NDA = "nda", "Non-disclosure agreement"

    public_id = _public_id()
    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="agreements")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    reference = models.CharField(max_length=120, blank=True)
    signed_on = models.DateField()
    renewal_on = models.DateField(help_text="The date the agreement ends unless renewed.")
    terminated_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["renewal_on"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} with {self.vendor_id} until {self.renewal_on}"

    def is_current(self, on: date) -> bool:
        return self.terminated_on is None and self.signed_on <= on <= self.renewal_on


class VendorContractReview(models.Model):
    public_id = _public_id()
    agreement = models.ForeignKey(
        VendorAgreement, on_delete=models.CASCADE, related_name="reviews"
    )
    reviewed_at = models.DateTimeField(default=timezone.now)
    reviewer = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=200)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-reviewed_at"]

    def __str__(self) -> str:
        return f"review of {self.agreement_id} on {self.reviewed_at:%Y-%m-%d}"


class DataDisclosure(models.Model):
    """Personal data handed to a third party, with the consent it relies on."""

    public_id = _public_id()
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="disclosures")
    disclosed_at = models.DateTimeField(default=timezone.now)
    data_categories = models.CharField(max_length=300)
    purpose = models.CharField(max_length=300)
    subject_count = models.PositiveIntegerField(default=0)
    # The consent purpose the disclosure relies on: the check counts the
    # people whose latest decision on it granted consent at the moment of
    # disclosure, and needs at least ``subject_count`` of them.
    consent_purpose = models.ForeignKey(
        "compliance.ConsentPurpose",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="disclosures",
    )
    # Where the agreement or consent evidence is filed, for the auditor.
    consent_reference = models.CharField(max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-disclosed_at"]

    def __str__(self) -> str:
        return f"disclosure to {self.vendor_id} on {self.disclosed_at:%Y-%m-%d}"


# --- Risk register -----------------------------------------------------------

SCORE_VALIDATORS = [MinValueValidator(1), MaxValueValidator(5)]

# Likelihood x impact on 1..5 scales. 15 and above is the top band of the
# usual 5x5 matrix: "likely" (4) with "major" impact (4) is 16, while any
# risk needing a 5 on one axis reaches it only with at least 3 on the other.
HIGH_RISK_SCORE = 15


class Risk(models.Model):
    class Treatment(models.TextChoices):
        UNTREATED = "", "Not yet decided"
        MITIGATE = "mitigate", "Mitigate"
        ACCEPT = "accept", "Accept"
        TRANSFER = "transfer", "Transfer"
        AVOID = "avoid", "Avoid"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    public_id = _public_id()
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=80, blank=True)
    likelihood = models.PositiveSmallIntegerField(validators=SCORE_VALIDATORS)
    impact = models.PositiveSmallIntegerField(validators=SCORE_VALIDATORS)
    owner = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="owned_risks")
    treatment = models.CharField(
        max_length=20, choices=Treatment.choices, blank=True, default=Treatment.UNTREATED
    )
    treatment_plan = models.TextField(blank=True)
    # The engine's controls that treat the risk (CX-RSK-01, ...).
    controls = models.ManyToManyField("compliance.Control", blank=True, related_name="risks")
    review_period_days = models.PositiveIntegerField(default=90)
    last_reviewed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-likelihood", "-impact", "title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(likelihood__gte=1, likelihood__lte=5, impact__gte=1, impact__lte=5),
                name="gov_risk_scores_in_range",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def score(self) -> int:
        return self.likelihood * self.impact

    @property
    def is_high(self) -> bool:
        return self.score >= HIGH_RISK_SCORE

    @property
    def review_due_at(self) -> datetime | None:
        if self.last_reviewed_at is None:
            return None
        return self.last_reviewed_at + timedelta(days=self.review_period_days)


# --- Change management -------------------------------------------------------


class ChangeRequest(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted for approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    public_id = _public_id()
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    risk = models.CharField(max_length=20, choices=RiskRating.choices, default=RiskRating.LOW)
    # Commit hashes or merge-request references the change covers.
    commits = models.JSONField(default=list, blank=True)
    author = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="authored_changes")
    reviewer = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="reviewed_changes"
    )
    approver = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="approved_changes"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SUBMITTED)
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # The service refuses self-approval with a clear code; the
            # database refuses it for every other path (admin, shell).
            models.CheckConstraint(
                condition=Q(approver__isnull=True) | ~Q(approver=F("author")),
                name="gov_change_approver_not_author",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        super().clean()
        _refuse_self_approval(self.author_id, self.approver_id, "change")


class Deployment(models.Model):
    """One deployment, as the CI/CD pipeline reported it."""

    public_id = _public_id()
    # Null only for deployments recorded without a change (by hand, in an
    # emergency): the check lists them as failing.
    change = models.ForeignKey(
        ChangeRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="deployments"
    )
    environment = models.CharField(max_length=40, default="production")
    commit = models.CharField(max_length=64, blank=True)
    pipeline_run = models.CharField(max_length=200, blank=True)
    deployed_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-deployed_at"]
        indexes = [models.Index(fields=["deployed_at"])]
        constraints = [
            # A pipeline that retries its call records one deployment.
            models.UniqueConstraint(
                fields=["environment", "pipeline_run"],
                condition=~Q(pipeline_run=""),
                name="gov_deployment_one_per_pipeline_run",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.environment} {self.commit[:12]} at {self.deployed_at:%Y-%m-%d %H:%M}"


# --- Business continuity -----------------------------------------------------


class DisasterRecoveryPlan(models.Model):
    public_id = _public_id()
    name = models.CharField(max_length=200)
    scope = models.TextField()
    # The objectives CloudExpress commits to: back within 4 hours, losing at
    # most 1 hour of data.
    rto_minutes = models.PositiveIntegerField(default=240)
    rpo_minutes = models.PositiveIntegerField(default=60)
    owner = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DisasterRecoveryTest(models.Model):
    class Kind(models.TextChoices):
        TABLETOP = "tabletop", "Tabletop exercise"
        RESTORE = "restore", "Backup restore"
        FAILOVER = "failover", "Full failover"

    public_id = _public_id()
    plan = models.ForeignKey(DisasterRecoveryPlan, on_delete=models.CASCADE, related_name="tests")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    performed_at = models.DateTimeField()
    # Measured, not planned: how long recovery took and how much data the
    # restored state missed.
    measured_rto_minutes = models.PositiveIntegerField()
    measured_rpo_minutes = models.PositiveIntegerField()
    notes = models.TextField(blank=True)
    conducted_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-performed_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.plan_id} on {self.performed_at:%Y-%m-%d}"


class EmergencyContact(models.Model):
    public_id = _public_id()
    plan = models.ForeignKey(
        DisasterRecoveryPlan,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="contacts",
    )
    name = models.CharField(max_length=200)
    role = models.CharField(max_length=200)
    phone = models.CharField(max_length=40)
    email = models.EmailField(blank=True)
    escalation_order = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["escalation_order", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.role})"


# --- Internal audits ---------------------------------------------------------


class InternalAudit(models.Model):
    class Kind(models.TextChoices):
        QUARTERLY_REVIEW = "quarterly_review", "Quarterly control review"
        ANNUAL = "annual", "Annual internal audit"
        AD_HOC = "ad_hoc", "Ad-hoc assessment"

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"

    public_id = _public_id()
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    scope = models.TextField(blank=True)
    period_start = models.DateField()
    period_end = models.DateField()
    lead = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PLANNED)
    completed_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-period_end"]

    def __str__(self) -> str:
        return self.title


class AuditFinding(models.Model):
    public_id = _public_id()
    audit = models.ForeignKey(InternalAudit, on_delete=models.CASCADE, related_name="findings")
    title = models.CharField(max_length=200)
    severity = models.CharField(max_length=20, choices=RiskRating.choices)
    # The engine's control the finding is about, when it is about one.
    control = models.ForeignKey(
        "compliance.Control",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_findings",
    )
    owner = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="owned_findings")
    opened_at = models.DateTimeField(default=timezone.now)
    due_on = models.DateField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closure_note = models.TextField(blank=True)

    class Meta:
        ordering = ["closed_at", "due_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=F("opened_at")),
                name="gov_finding_closed_after_opened",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Walkthrough(models.Model):
    """External audit support: a session in which an auditor is walked
    through one control."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        HELD = "held", "Held"
        CANCELLED = "cancelled", "Cancelled"

    public_id = _public_id()
    # The engine's control walked through. Empty only for a walkthrough
    # recorded before the registers linked to the controls whose old code
    # named no control; the API requires one.
    control = models.ForeignKey(
        "compliance.Control",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="walkthroughs",
    )
    auditor_name = models.CharField(max_length=200)
    presenter = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    scheduled_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SCHEDULED)
    held_at = models.DateTimeField(null=True, blank=True)
    record = models.TextField(blank=True, help_text="What was shown, asked and agreed.")

    class Meta:
        ordering = ["-scheduled_at"]

    def __str__(self) -> str:
        return f"walkthrough of {self.control_id} on {self.scheduled_at:%Y-%m-%d}"


# --- Reminders ---------------------------------------------------------------


class Reminder(models.Model):
    """The sent-log of due-date reminders: one row per (kind, object, due
    date), so a repeated run sends nothing twice and a moved due date earns a
    new reminder."""

    class Kind(models.TextChoices):
        POLICY_REVIEW = "policy_review", "Policy review"
        TRAINING_DUE = "training_due", "Training due"
        VENDOR_REVIEW = "vendor_review", "Vendor review"
        AGREEMENT_RENEWAL = "agreement_renewal", "Agreement renewal"
        RISK_REVIEW = "risk_review", "Risk review"
        FINDING_DUE = "finding_due", "Audit finding due"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    object_id = models.BigIntegerField()
    due_on = models.DateField()
    recipient = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-sent_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "object_id", "due_on"], name="gov_reminder_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.object_id} due {self.due_on}"
