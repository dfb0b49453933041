"""Data lifecycle and privacy: retention, legal holds, archives, deletion
certificates, data-subject requests, consent, backups and usage records.

None of these rows holds personal text: they point at a user by key or by
public id, so that erasing a person leaves them intact and meaningless.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import models
from django.utils import timezone

__all__ = [
    "ApiUsage",
    "ArchiveObject",
    "BackupRecord",
    "Classification",
    "ConsentPurpose",
    "ConsentPurposeVersion",
    "ConsentRecord",
    "DataSubjectRequest",
    "DataType",
    "DeletionCertificate",
    "EncryptionKey",
    "LegalHold",
    "PrivacyNotice",
    "PrivacyNoticeAcknowledgement",
    "RestoreTest",
    "RetentionBatch",
    "RetentionPolicy",
    "RetentionRun",
]


class DataType(models.TextChoices):
    """The kinds of data the retention table of the compliance document names."""

    AUDIT_LOGS = "audit_logs", "Audit logs"
    SECURITY_EVENTS = "security_events", "Security events"
    USER_DATA = "user_data", "User data (after termination)"
    USAGE_DATA = "usage_data", "Usage data"
    NOTIFICATIONS = "notifications", "Notifications"
    BACKUPS = "backups", "Backups"


class Classification(models.TextChoices):
    """Data classification, from least to most protected."""

    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal"
    CONFIDENTIAL = "confidential", "Confidential"
    RESTRICTED = "restricted", "Restricted"


class RetentionPolicy(models.Model):
    """How long one data type is kept, and whether it is archived first."""

    class Unit(models.TextChoices):
        DAYS = "days", "Days"
        MONTHS = "months", "Months"
        YEARS = "years", "Years"

    data_type = models.CharField(max_length=40, choices=DataType.choices, unique=True)
    amount = models.PositiveIntegerField()
    unit = models.CharField(max_length=10, choices=Unit.choices)
    # For user data the period runs from termination, not from creation.
    starts_at_termination = models.BooleanField(default=False)
    archive_before_delete = models.BooleanField(default=False)
    description = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["data_type"]
        verbose_name_plural = "retention policies"

    def __str__(self) -> str:
        return f"{self.data_type}: {self.amount} {self.unit}"

    def cutoff(self, now: datetime | None = None) -> datetime:
        """Return the moment before which rows of this type have expired."""
        now = now or timezone.now()
        return now - relativedelta(**{str(self.unit): int(self.amount)})


class LegalHold(models.Model):
    """Suspends deletion and erasure for a user, an organization or a type."""

    class Scope(models.TextChoices):
        USER = "user", "User"
        ORGANIZATION = "organization", "Organization"
        DATA_TYPE = "data_type", "Data type"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    scope = models.CharField(max_length=20, choices=Scope.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    organization = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    data_type = models.CharField(max_length=40, choices=DataType.choices, blank=True)
    reason = models.TextField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="legal_holds_owned"
    )
    created_at = models.DateTimeField(default=timezone.now)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(scope="user", user__isnull=False, organization=None, data_type="")
                    | models.Q(
                        scope="organization", organization__isnull=False, user=None, data_type=""
                    )
                    | (
                        models.Q(scope="data_type", user=None, organization=None)
                        & ~models.Q(data_type="")
                    )
                ),
                name="compliance_legalhold_one_target",
            ),
        ]

    def __str__(self) -> str:
        return f"Legal hold {self.public_id} on {self.scope}"

    @property
    def is_active(self) -> bool:
        return self.released_at is None


class RetentionRun(models.Model):
    """One execution of the retention job for one day slot."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    job_run = models.OneToOneField(
        "compliance.JobRun", on_delete=models.PROTECT, related_name="retention_run"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The cut-off per data type, fixed when the run starts so that a resumed
    # run deletes exactly what the first attempt would have.
    cutoffs = models.JSONField(default=dict, blank=True)
    # Per data type: the last primary key done and whether the type is done.
    cursor = models.JSONField(default=dict, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    held = models.JSONField(default=dict, blank=True)
    # Chained tables: the first kept row's seq and prev_hash after pruning.
    anchors = models.JSONField(default=dict, blank=True)
    verification = models.JSONField(default=dict, blank=True)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Retention run {self.public_id} ({self.status})"


class ArchiveObject(models.Model):
    """One encrypted archive file written before a batch was deleted."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    data_type = models.CharField(max_length=40, choices=DataType.choices)
    run = models.ForeignKey(
        RetentionRun, null=True, blank=True, on_delete=models.PROTECT, related_name="archives"
    )
    name = models.CharField(max_length=255, unique=True)
    row_count = models.PositiveIntegerField()
    first_pk = models.BigIntegerField()
    last_pk = models.BigIntegerField()
    ciphertext_sha256 = models.CharField(max_length=64)
    classification = models.CharField(
        max_length=20, choices=Classification.choices, default=Classification.RESTRICTED
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class RetentionBatch(models.Model):
    """One committed deletion batch: what resume and the certificate read."""

    run = models.ForeignKey(RetentionRun, on_delete=models.CASCADE, related_name="batches")
    data_type = models.CharField(max_length=40, choices=DataType.choices)
    number = models.PositiveIntegerField()
    first_pk = models.BigIntegerField()
    last_pk = models.BigIntegerField()
    row_count = models.PositiveIntegerField()
    # The deleted keys as [first, last] runs: lossless and short.
    id_ranges = models.JSONField(default=list)
    archive = models.ForeignKey(
        ArchiveObject, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run_id", "data_type", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "data_type", "number"], name="compliance_retentionbatch_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.data_type} batch {self.number}"


class DataSubjectRequest(models.Model):
    """A privacy request or complaint, tracked with its response time."""

    class Kind(models.TextChoices):
        ACCESS = "access", "Access / export"
        ERASURE = "erasure", "Erasure"
        RECTIFICATION = "rectification", "Rectification"
        OBJECTION = "objection", "Objection"
        COMPLAINT = "complaint", "Complaint"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        COMPLETED = "completed", "Completed"
        REFUSED = "refused", "Refused"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept when the subject's row is gone: the pseudonym, not the person.
    subject_public_id = models.UUIDField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    received_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    # Outcome codes and counts only; never the person's data.
    outcome = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["status", "due_at"])]

    def __str__(self) -> str:
        return f"{self.kind} request {self.public_id}"

    @property
    def response_seconds(self) -> float | None:
        if self.completed_at is None:
            return None
        return (self.completed_at - self.received_at).total_seconds()


class DeletionCertificate(models.Model):
    """Proof of one retention run or one erasure: what went, when, why."""

    class Kind(models.TextChoices):
        RETENTION = "retention", "Retention run"
        ERASURE = "erasure", "Erasure"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    run = models.OneToOneField(
        RetentionRun, null=True, blank=True, on_delete=models.PROTECT, related_name="certificate"
    )
    request = models.OneToOneField(
        DataSubjectRequest,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="certificate",
    )
    issued_at = models.DateTimeField(default=timezone.now)
    policies = models.JSONField(default=dict, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    identifier_count = models.PositiveIntegerField(default=0)
    identifiers_sha256 = models.CharField(max_length=64)
    classification = models.CharField(
        max_length=20, choices=Classification.choices, default=Classification.CONFIDENTIAL
    )

    class Meta:
        ordering = ["-issued_at"]

    def __str__(self) -> str:
        return f"Deletion certificate {self.public_id}"


class ConsentPurpose(models.Model):
    """A purpose personal data is used for, with versioned texts."""

    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class ConsentPurposeVersion(models.Model):
    purpose = models.ForeignKey(ConsentPurpose, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    text = models.TextField()
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["purpose_id", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["purpose", "version"], name="compliance_consentversion_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose_id} v{self.version}"


class ConsentRecord(models.Model):
    """One decision of one user on one purpose version; never updated, so the
    table is the full history."""

    class Decision(models.TextChoices):
        GRANTED = "granted", "Granted"
        REFUSED = "refused", "Refused"
        WITHDRAWN = "withdrawn", "Withdrawn"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consent_records"
    )
    purpose = models.ForeignKey(ConsentPurpose, on_delete=models.PROTECT, related_name="+")
    version = models.ForeignKey(ConsentPurposeVersion, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [models.Index(fields=["user", "purpose", "recorded_at"])]

    def __str__(self) -> str:
        return f"{self.decision} {self.purpose_id} by {self.user_id}"


class PrivacyNotice(models.Model):
    version = models.PositiveIntegerField(unique=True)
    text = models.TextField()
    summary_of_changes = models.TextField(blank=True)
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"Privacy notice v{self.version}"


class PrivacyNoticeAcknowledgement(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    notice = models.ForeignKey(PrivacyNotice, on_delete=models.PROTECT, related_name="+")
    acknowledged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "notice"], name="compliance_notice_ack_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read v{self.notice_id}"


class BackupRecord(models.Model):
    class Status(models.TextChoices):
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        PRUNED = "pruned", "Pruned"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    vendor = models.CharField(max_length=20)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DONE)
    name = models.CharField(max_length=255, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    ciphertext_sha256 = models.CharField(max_length=64, blank=True)
    copied = models.BooleanField(default=False)
    # Per table, taken in the same snapshot as the dump: rows and checksum.
    manifest = models.JSONField(default=dict, blank=True)
    duration_seconds = models.FloatField(default=0)
    pruned_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Backup {self.name or self.public_id}"


class RestoreTest(models.Model):
    class Status(models.TextChoices):
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"

    backup = models.ForeignKey(BackupRecord, on_delete=models.PROTECT, related_name="restores")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    duration_seconds = models.FloatField(default=0)
    # Age of the restored backup when the test began: the data a failure
    # at that moment would have lost.
    recovery_point_seconds = models.FloatField(default=0)
    rto_met = models.BooleanField(default=False)
    rpo_met = models.BooleanField(default=False)
    tables_compared = models.PositiveIntegerField(default=0)
    mismatches = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Restore test of {self.backup_id}: {self.status}"


class ApiUsage(models.Model):
    """Requests per organization, endpoint and day, as billing reads them."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+"
    )
    endpoint = models.CharField(max_length=200)
    day = models.DateField(db_index=True)
    count = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-day", "endpoint"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "endpoint", "day"], name="compliance_apiusage_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.endpoint} {self.day}: {self.count}"


class EncryptionKey(models.Model):
    """What is known of one key of the key ring: never the key itself.

    The secrets live where production keeps secrets (the environment; see
    ``cloudexpress/keyring.py``). This row records when a key was created, a
    fingerprint that tells a reused id from the same key, when it became the
    key that encrypts, and when the last value sealed with it was rewritten
    (retired). Key age, which the compliance engine reads
    (``cc-encryption-key-age``), is measured from ``created_at``.
    """

    class Purpose(models.TextChoices):
        FIELDS = "fields", "Encrypted model fields"
        ARCHIVE = "archive", "Retention archives"
        BACKUP = "backup", "Database backups"

    purpose = models.CharField(max_length=20, choices=Purpose.choices, default=Purpose.FIELDS)
    key_id = models.CharField(max_length=64)
    # HMAC-SHA256 of a fixed label under the key: names the key, reveals nothing.
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    # Rows rewritten under this key by the last rotation, per model field.
    rotated = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["purpose", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["purpose", "key_id"], name="compliance_encryptionkey_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} key {self.key_id}"
