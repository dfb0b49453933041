"""The audit trail: model changes (django-auditlog) and security events.

Both tables are append-only and chained: ``row_hash`` is the SHA-256 of the
row's immutable content and of the previous row's hash (see
``audit.chain``). Nothing holds a foreign key to either table, so they can be
partitioned or pruned without cascading anywhere.
"""

from __future__ import annotations

import uuid
from typing import Any

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.conf import settings
from django.db import models
from django.utils import timezone


class ChainedRow(models.Model):
    seq = models.BigIntegerField(unique=True, null=True, editable=False)
    prev_hash = models.CharField(max_length=64, blank=True, editable=False)
    row_hash = models.CharField(max_length=64, blank=True, editable=False)
    # sha256(personal_salt || canonical personal columns): the hash commits to
    # the personal values through this digest only. Erasure overwrites the
    # personal columns and clears the salt; the digest, and so the chain,
    # stay as they were, and without the salt the digest cannot be matched
    # against guessed values (an IPv4 address is easy to guess otherwise).
    personal_digest = models.CharField(max_length=64, blank=True, editable=False)
    personal_salt = models.BinaryField(null=True, editable=False)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{type(self).__name__} #{self.seq}"


class AuditLogEntry(AbstractLogEntry, ChainedRow):
    """auditlog's entry with the request context this project records."""

    # auditlog indexes five columns one by one. Every index is paid on every
    # audited write; the searches the pages and erasure make are served by
    # the composite indexes in Meta, so these are declared again without.
    content_type = models.ForeignKey(
        to="contenttypes.ContentType",
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name="content type",
        db_index=False,
    )
    object_pk = models.CharField(max_length=255, verbose_name="object pk")
    object_id = models.BigIntegerField(blank=True, null=True, verbose_name="object id")
    action = models.PositiveSmallIntegerField(
        choices=AbstractLogEntry.Action.choices, verbose_name="action"
    )
    actor = models.ForeignKey(
        to=settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        blank=True,
        null=True,
        related_name="+",
        verbose_name="actor",
        db_index=False,
    )

    user_agent = models.CharField(max_length=512, blank=True)
    # The system job that acted when no person did ("celery:retention").
    system_actor = models.CharField(max_length=80, blank=True)
    # The actor's key as it was at insert. ``actor`` is SET_NULL when the user
    # row goes, so the hash covers this copy, which never changes.
    actor_pk = models.BigIntegerField(null=True, blank=True, editable=False)

    objects = LogEntryManager()

    class Meta(AbstractLogEntry.Meta):
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log entries"
        indexes = [
            models.Index(fields=["content_type", "object_pk"]),
            # Actor filters and erasure select by the hashed copy, which
            # equals actor_id from insert until the user row is deleted.
            models.Index(fields=["actor_pk"]),
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        from audit import chain

        if self.pk is not None:
            raise PermissionError("Audit log entries are append-only.")
        chain.fill_context(self)
        self.actor_pk = self.actor_id
        chain.insert_chained(self, *args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("Audit log entries are removed by retention only.")


class SecurityEvent(ChainedRow):
    class Type(models.TextChoices):
        SIGN_IN_SUCCEEDED = "auth.sign_in_succeeded", "Sign-in succeeded"
        SIGN_IN_FAILED = "auth.sign_in_failed", "Sign-in failed"
        SIGNED_OUT = "auth.signed_out", "Signed out"
        LOCKED_OUT = "auth.locked_out", "Account locked out"
        UNLOCKED = "auth.unlocked", "Account unlocked"
        MFA_ENROLLED = "mfa.enrolled", "MFA enrolled"
        MFA_REMOVED = "mfa.removed", "MFA removed"
        MFA_FAILED = "mfa.failed", "MFA code refused"
        MFA_SUCCEEDED = "mfa.succeeded", "MFA code accepted"
        PASSWORD_CHANGED = "password.changed", "Password changed"
        PASSWORD_RESET = "password.reset", "Password reset"
        EMAIL_VERIFIED = "email.verified", "E-mail verified"
        SESSION_REVOKED = "session.revoked", "Session revoked"
        ROLE_GRANTED = "role.granted", "Role granted"
        ROLE_REVOKED = "role.revoked", "Role revoked"
        INVITATION_SENT = "invitation.sent", "Invitation sent"
        INVITATION_ACCEPTED = "invitation.accepted", "Invitation accepted"
        INVITATION_REVOKED = "invitation.revoked", "Invitation revoked"
        API_KEY_CREATED = "api_key.created", "API key created"
        API_KEY_USED = "api_key.used", "API key used"
        API_KEY_ROTATED = "api_key.rotated", "API key rotated"
        API_KEY_REVOKED = "api_key.revoked", "API key revoked"
        TOKEN_ISSUED = "token.issued", "Token issued"
        TOKEN_REUSED = "token.reused", "Refresh token reused"
        PERMISSION_DENIED = "access.permission_denied", "Permission denied"
        IP_DENIED = "access.ip_denied", "Address not allowed"
        THROTTLED = "access.throttled", "Request throttled"
        USER_TERMINATED = "user.terminated", "User terminated"
        APPROVAL_REQUESTED = "approval.requested", "Approval requested"
        APPROVAL_GRANTED = "approval.granted", "Approval granted"
        APPROVAL_REFUSED = "approval.refused", "Approval refused"
        DATA_EXPORTED = "data.exported", "Data exported"
        DATA_ERASED = "data.erased", "Data erased"
        RETENTION_EXECUTED = "retention.executed", "Retention executed"
        SETTINGS_CHANGED = "settings.changed", "Settings changed"
        EVIDENCE_VIEWED = "evidence.viewed", "Evidence viewed"
        EVIDENCE_DOWNLOADED = "evidence.downloaded", "Evidence downloaded"
        SSH_FAILED = "ssh.failed", "SSH authentication failed"
        SSH_INVALID_USER = "ssh.invalid_user", "SSH invalid user"
        SSH_ACCEPTED = "ssh.accepted", "SSH authentication accepted"
        ACCOUNT_PROVISIONED = "host.account_provisioned", "Host account provisioned"
        EXTERNAL = "external", "External event"

    class Severity(models.TextChoices):
        INFO = "info", "Info"
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    event_type = models.CharField(max_length=64, choices=Type.choices, db_index=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.INFO)
    # Foreign keys go from the event outwards only; SET_NULL keeps the event
    # when the user row goes, so none of them is part of the hashed content
    # (their ``*_pk`` copies are).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    system_actor = models.CharField(max_length=80, blank=True)
    # Keys as they were at insert, covered by the hash; the foreign keys
    # above and below are SET_NULL and serve joins only.
    actor_pk = models.BigIntegerField(null=True, blank=True, editable=False)
    target_user_pk = models.BigIntegerField(null=True, blank=True, editable=False)
    organization_pk = models.BigIntegerField(null=True, blank=True, editable=False)
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    organization = models.ForeignKey(
        "accounts.Organization",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    detail = models.JSONField(default=dict, blank=True)
    # Beside the event, never part of its hashed content.
    risk_score = models.PositiveSmallIntegerField(null=True, blank=True)
    risk_factors = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["event_type", "occurred_at"]),
            models.Index(fields=["actor", "occurred_at"]),
            models.Index(fields=["ip", "occurred_at"]),
            models.Index(fields=["target_user", "occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        from audit import chain

        if self.pk is not None:
            raise PermissionError("Security events are append-only.")
        self.actor_pk = self.actor_id
        self.target_user_pk = self.target_user_id
        self.organization_pk = self.organization_id
        chain.insert_chained(self, *args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("Security events are removed by retention only.")
