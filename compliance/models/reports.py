"""Exported report packs: what was built, its hash and signature, its progress."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class ReportPack(models.Model):
    """One PDF evidence pack, from request to signed file.

    The row is the portal's record that it produced a file: ``verify_pack``
    finds it by the file's SHA-256 and checks the HMAC over id and hash.
    """

    class Kind(models.TextChoices):
        READINESS = "readiness", "SOC 2 readiness assessment"
        CONTROL_STATUS = "control_status", "Control status report"
        GAP_ANALYSIS = "gap_analysis", "Gap analysis"
        REMEDIATION = "remediation", "Remediation tracking"
        SECURITY = "security", "Security report"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Building"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    progress_step = models.CharField(max_length=80, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="report_packs",
    )
    classification = models.CharField(max_length=40, blank=True)
    file = models.FileField(upload_to="reports/packs/", blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    signature = models.CharField(max_length=64, blank=True)
    signing_key_id = models.CharField(max_length=20, blank=True)
    page_count = models.PositiveIntegerField(null=True, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    evidence_count = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_start__lte=models.F("period_end")),
                name="compliance_reportpack_period_ordered",
            ),
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="compliance_reportpack_progress_max"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.period_start}..{self.period_end}"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED}

    @property
    def filename(self) -> str:
        return f"cloudexpress-{self.kind}-{self.period_start}-{self.period_end}.pdf"
