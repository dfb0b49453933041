"""Access reviews: periodic campaigns in which Owners and Admins confirm,
change or revoke every membership (SOC 2 CC6.2, CC6.3)."""

from __future__ import annotations

import uuid

from django.db import models

from accounts.models.core import Membership, Organization, Role, User


class AccessReviewCampaign(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="access_review_campaigns"
    )
    name = models.CharField(max_length=120)
    # The period a scheduled campaign covers ("2026-Q4"); empty when started
    # by hand. Unique per organization, so beat starts each quarter once.
    slot = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    started_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    due_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "slot"],
                condition=~models.Q(slot=""),
                name="accounts_review_one_per_slot",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AccessReviewItem(models.Model):
    class Decision(models.TextChoices):
        PENDING = "pending", "Pending"
        KEEP = "keep", "Keep"
        CHANGE = "change", "Change role"
        REVOKE = "revoke", "Revoke"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    campaign = models.ForeignKey(
        AccessReviewCampaign, on_delete=models.CASCADE, related_name="items"
    )
    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="review_items"
    )
    # What the reviewer saw, kept even if the membership changes later.
    role = models.ForeignKey(
        Role, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    role_name = models.CharField(max_length=100)
    privileged = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)
    decision = models.CharField(max_length=20, choices=Decision.choices, default=Decision.PENDING)
    new_role = models.ForeignKey(
        Role, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["campaign_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "membership"], name="accounts_review_item_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"review item {self.public_id} ({self.decision})"


class AccessReviewReminder(models.Model):
    """One row per campaign and reminder window: a reminder goes out once per
    window however often the job runs."""

    campaign = models.ForeignKey(
        AccessReviewCampaign, on_delete=models.CASCADE, related_name="reminders"
    )
    window = models.CharField(max_length=20)
    sent_at = models.DateTimeField(auto_now_add=True)
    recipients = models.PositiveIntegerField(default=0)
    open_items = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "window"], name="accounts_review_reminder_once"
            ),
        ]

    def __str__(self) -> str:
        return f"reminder {self.campaign_id} {self.window}"
