"""CloudExpress's own controls and the attestations that prove the manual ones."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


# How long a gap may stay open, by the severity of its control.
DUE_DAYS: dict[str, int] = {
    Severity.CRITICAL: 7,
    Severity.HIGH: 14,
    Severity.MEDIUM: 30,
    Severity.LOW: 90,
}


class Control(models.Model):
    """What CloudExpress does to meet one or more criteria."""

    code = models.CharField(max_length=40, unique=True)
    # The compliance document's own section label ("CC5.2 Registration"),
    # kept beside the official mapping because the document numbers its
    # sections its own way.
    document_label = models.CharField(max_length=120, blank=True)
    name = models.CharField(max_length=200)
    description = models.TextField()
    owner_title = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_controls",
    )
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    # A person must attest to it (with a file, a reviewer and an expiry) on
    # top of whatever checks prove automatically.
    requires_attestation = models.BooleanField(default=False)
    criteria = models.ManyToManyField("compliance.Criterion", related_name="controls", blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def due_in(self) -> timedelta:
        return timedelta(days=DUE_DAYS.get(self.severity, 30))


class Classification(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal"
    CONFIDENTIAL = "confidential", "Confidential"
    RESTRICTED = "restricted", "Restricted"


def attestation_upload_to(instance: Attestation, filename: str) -> str:
    return f"attestations/{instance.control_id}/{timezone.now():%Y/%m}/{filename}"


class Attestation(models.Model):
    """A person's proof that a control operates: a file, who attests, who
    reviewed it, and until when it holds."""

    control = models.ForeignKey(Control, on_delete=models.PROTECT, related_name="attestations")
    statement = models.TextField()
    file = models.FileField(upload_to=attestation_upload_to, max_length=300)
    file_name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField(default=0)
    classification = models.CharField(
        max_length=20, choices=Classification.choices, default=Classification.CONFIDENTIAL
    )
    attested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["control", "expires_at"])]
        constraints = [
            # Separation of duties: nobody reviews their own attestation.
            models.CheckConstraint(
                condition=~models.Q(reviewed_by=models.F("attested_by")),
                name="compliance_attestation_reviewer_differs",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.control_id}: {self.file_name}"

    def is_current(self, now: object = None) -> bool:
        moment = now or timezone.now()
        return self.reviewed_at is not None and self.expires_at > moment  # type: ignore[operator]
