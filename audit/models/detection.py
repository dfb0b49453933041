"""Detection and response: sign-in profiles, threat intelligence, alerts,
containment, incidents, notifications and ingest bookkeeping.

Nothing here holds a foreign key to ``SecurityEvent``: events are referred to
by their id in a plain ``BigIntegerField``, so the event table can be
partitioned or pruned by retention without cascading into these tables.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class SignInProfileEntry(models.Model):
    """How often one subject signed in with one value of one feature.

    The subject ``*`` is the global population; ``feature="_total"`` holds the
    number of sign-ins a subject's counts are out of.
    """

    subject = models.CharField(max_length=200)
    feature = models.CharField(max_length=20)
    value = models.CharField(max_length=100)
    count = models.PositiveIntegerField(default=0)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "feature", "value"], name="audit_signin_profile_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} {self.feature}={self.value} x{self.count}"


class ThreatIndicator(models.Model):
    """A known-bad address or range from an imported threat list."""

    network = models.CharField(max_length=49)
    # First and last address as integers, for range lookups on any backend.
    first_int = models.DecimalField(max_digits=40, decimal_places=0)
    last_int = models.DecimalField(max_digits=40, decimal_places=0)
    category = models.CharField(max_length=40, blank=True)
    note = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=200)
    listed_on = models.DateField()
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "network"], name="audit_threat_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.network} ({self.source})"


class DetectionCursor(models.Model):
    """How far a detection job has read the event table."""

    name = models.CharField(max_length=60, unique=True)
    last_event_id = models.BigIntegerField(default=0)
    last_occurred_at = models.DateTimeField(null=True, blank=True)
    runs = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_event_id}"


class Alert(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"
        FALSE_POSITIVE = "false_positive", "False positive"

    class Severity(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    ACTIVE = (Status.OPEN, Status.ACKNOWLEDGED)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    rule = models.CharField(max_length=60, db_index=True)
    # What the alert is about: "ip:203.0.113.5" or "user:42" or "ssh:root".
    key = models.CharField(max_length=200)
    title = models.CharField(max_length=200)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    subject_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    subject_label = models.CharField(max_length=200, blank=True)
    first_event_at = models.DateTimeField()
    last_event_at = models.DateTimeField()
    event_count = models.PositiveIntegerField(default=0)
    max_risk = models.PositiveSmallIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)
    contained_at = models.DateTimeField(null=True, blank=True)
    incident = models.ForeignKey(
        "audit.Incident", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )

    class Meta:
        ordering = ["-last_event_at", "-id"]
        constraints = [
            # One alert per rule, subject and episode: a repeated run that
            # sees the same first event lands on the same row.
            models.UniqueConstraint(
                fields=["rule", "key", "first_event_at"], name="audit_alert_episode_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["rule", "key", "last_event_at"]),
            models.Index(fields=["status", "last_event_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.key} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class AlertEvent(models.Model):
    """Links an alert to the events it counts, by event id (no foreign key)."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="links")
    event_id = models.BigIntegerField(db_index=True)
    occurred_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["alert", "event_id"], name="audit_alert_event_unique"),
        ]

    def __str__(self) -> str:
        return f"alert {self.alert_id} event {self.event_id}"


class BlockedAddress(models.Model):
    """An address or range refused by the middleware until it expires."""

    network = models.CharField(max_length=49)
    reason = models.CharField(max_length=200)
    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.SET_NULL, related_name="blocks"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        indexes = [models.Index(fields=["lifted_at", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.network} until {self.expires_at:%Y-%m-%d %H:%M}"


class ContainmentAction(models.Model):
    """One automated containment step, kept so an admin can reverse it."""

    class Kind(models.TextChoices):
        LOCK_ACCOUNT = "lock_account", "Lock the account"
        REVOKE_SESSIONS = "revoke_sessions", "Revoke sessions, tokens and keys"
        BLOCK_IP = "block_ip", "Block the source address"

    class State(models.TextChoices):
        APPLIED = "applied", "Applied"
        REVERSED = "reversed", "Reversed"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="containment")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.APPLIED)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    blocked_address = models.ForeignKey(
        BlockedAddress, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What the step changed, so reversing restores exactly that.
    detail = models.JSONField(default=dict, blank=True)
    applied_at = models.DateTimeField(default=timezone.now)
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["applied_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "kind"], name="audit_containment_once"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for alert {self.alert_id} ({self.state})"


class Incident(models.Model):
    class Phase(models.TextChoices):
        DETECTION = "detection", "Detection"
        ANALYSIS = "analysis", "Analysis"
        CONTAINMENT = "containment", "Containment"
        ERADICATION = "eradication", "Eradication"
        RECOVERY = "recovery", "Recovery"
        LESSONS_LEARNED = "lessons_learned", "Lessons learned"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    class Severity(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    phase = models.CharField(max_length=20, choices=Phase.choices, default=Phase.DETECTION)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # When the malicious activity began (first linked event), when it was
    # detected (incident opened or first alert raised) and when service was
    # restored (recovery completed): MTTD and MTTR are read from these.
    started_at = models.DateTimeField()
    detected_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    review_summary = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-detected_at", "-id"]
        indexes = [models.Index(fields=["status", "detected_at"])]

    def __str__(self) -> str:
        return self.title


class IncidentPhase(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="phases")
    phase = models.CharField(max_length=20, choices=Incident.Phase.choices)
    started_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "phase"], name="audit_incident_phase_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} {self.phase}"


class IncidentEventLink(models.Model):
    """An event put on an incident's timeline by hand (by id, no foreign key)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="event_links")
    event_id = models.BigIntegerField(db_index=True)
    occurred_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "event_id"], name="audit_incident_event_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"incident {self.incident_id} event {self.event_id}"


class IncidentCommunication(models.Model):
    """Who was told what and when: the communication protocol as evidence."""

    class Audience(models.TextChoices):
        INTERNAL = "internal", "Internal roles"
        CUSTOMERS = "customers", "Affected customers"
        REGULATOR = "regulator", "Regulator"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="communications")
    template = models.CharField(max_length=60)
    audience = models.CharField(max_length=20, choices=Audience.choices)
    recipients = models.TextField()
    subject = models.CharField(max_length=200)
    body = models.TextField()
    sent_at = models.DateTimeField(default=timezone.now)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["sent_at", "id"]

    def __str__(self) -> str:
        return f"{self.template} to {self.audience} at {self.sent_at:%Y-%m-%d %H:%M}"


class Notification(models.Model):
    class Kind(models.TextChoices):
        ALERT_RAISED = "alert_raised", "New alert"
        INCIDENT_CHANGED = "incident_changed", "Incident changed"
        REMINDER = "reminder", "Reminder"
        ACCOUNT_SECURITY = "account_security", "Security event on your account"

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=300, blank=True)
    # Makes a repeated send of the same fact a no-op.
    dedup_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedup_key"], name="audit_notification_once"
            ),
        ]
        indexes = [models.Index(fields=["recipient", "read_at"])]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}"


class NotificationPreference(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=30, choices=Notification.Kind.choices)
    in_app = models.BooleanField(default=True)
    email = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="audit_notification_pref_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}"


class IngestedLine(models.Model):
    """The fingerprint of every imported line: a second import adds nothing."""

    fingerprint = models.CharField(max_length=64, unique=True)
    event_id = models.BigIntegerField()
    source = models.CharField(max_length=200)
    ingested_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.fingerprint
