"""Four-eyes approvals: one person requests a critical operation, another
with ``approvals.decide`` approves or refuses it."""

from __future__ import annotations

import uuid

from django.db import models

from accounts.models.core import Organization, User


class ApprovalRequest(models.Model):
    class Kind(models.TextChoices):
        ROLE_GRANT = "role.grant", "Grant a privileged role"
        INVITATION_SEND = "invitation.send", "Invite with a privileged role"
        # Named now so later issues only register their executor.
        RETENTION_RUN = "retention.run", "Run retention by hand"
        DATA_ERASURE = "privacy.erasure", "Erase a data subject's personal data"
        KEY_ROTATION = "keys.rotate", "Rotate encryption keys"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REFUSED = "refused", "Refused"
        EXECUTED = "executed", "Executed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="approval_requests"
    )
    kind = models.CharField(max_length=40, choices=Kind.choices)
    payload = models.JSONField(default=dict, blank=True)
    summary = models.CharField(max_length=255, blank=True)
    reason = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["organization", "status"])]
        constraints = [
            # Separation of duties in the database too, not only in the service.
            models.CheckConstraint(
                condition=models.Q(decided_by__isnull=True)
                | ~models.Q(decided_by=models.F("requested_by")),
                name="accounts_approval_not_self_decided",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.status})"
