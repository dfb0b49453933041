"""The auditors' evidence requests: asked on a control with a due date,
answered by the audit liaison with files and notes, tracked to closure."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


def evidence_response_upload_to(instance: EvidenceResponseFile, filename: str) -> str:
    return f"evidence-requests/{instance.request_id}/{timezone.now():%Y/%m}/{filename}"


class AuditLiaison(models.Model):
    """The member an organization designates to answer auditors' evidence
    requests. A new request is assigned to whoever holds the designation
    when it is asked; one designation per organization."""

    organization = models.OneToOneField(
        "accounts.Organization", on_delete=models.CASCADE, related_name="audit_liaison"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    designated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    designated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"audit liaison of {self.organization_id}"


class EvidenceRequest(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ANSWERED = "answered", "Answered"
        CLOSED = "closed", "Closed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    control = models.ForeignKey(
        "compliance.Control", on_delete=models.PROTECT, related_name="evidence_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    question = models.TextField()
    due_on = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    # The liaison the request is assigned to, and the only person who may
    # answer it: the designated liaison when it was asked, or whoever an
    # admin reassigned it to. Empty while no liaison is designated.
    liaison = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    answer_note = models.TextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["status", "due_on", "id"]
        indexes = [models.Index(fields=["status", "due_on"])]

    def __str__(self) -> str:
        return f"request on {self.control_id} ({self.status})"

    def is_overdue(self, today: object = None) -> bool:
        day = today or timezone.localdate()
        return self.status != self.Status.CLOSED and self.due_on < day  # type: ignore[operator]


class EvidenceResponseFile(models.Model):
    request = models.ForeignKey(EvidenceRequest, on_delete=models.CASCADE, related_name="files")
    file = models.FileField(upload_to=evidence_response_upload_to, max_length=300)
    file_name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.file_name
