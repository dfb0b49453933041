"""Credentials beside the password: MFA devices, backup codes, API keys,
JWT refresh families, password history and per-organization IP allowlists.

Secrets are never stored as given: TOTP seeds are encrypted with the key ring
(they must be read back to compute codes), everything that is only compared
(backup codes, API key secrets) is stored as a keyed or plain SHA-256.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_otp.models import Device, ThrottlingMixin

from cloudexpress.fields import EncryptedTextField


class PasswordHistory(models.Model):
    """One earlier password hash of a user (never the password itself)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_history"
    )
    password_hash = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"])]
        verbose_name_plural = "password history"

    def __str__(self) -> str:
        return f"password of {self.user_id} at {self.created_at:%Y-%m-%d}"


class TOTPDevice(ThrottlingMixin, Device):
    """A TOTP authenticator (RFC 6238) whose seed is encrypted at rest.

    ``last_t`` is the last accepted time step; a code is accepted only by an
    UPDATE that moves it forward, so one code cannot be used twice even by
    parallel requests (see ``accounts.auth.mfa``).
    """

    secret = EncryptedTextField(help_text="Base32 seed, encrypted with the key ring.")
    digits = models.PositiveSmallIntegerField(default=6)
    step = models.PositiveSmallIntegerField(default=30)
    tolerance = models.PositiveSmallIntegerField(default=1)
    last_t = models.BigIntegerField(default=-1)
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta(Device.Meta):
        verbose_name = "TOTP device"

    def get_throttle_factor(self) -> int:
        return int(settings.OTP_TOTP_THROTTLE_FACTOR)

    def verify_token(self, token: object) -> bool:
        from accounts.auth.mfa import totp_device_accept

        return totp_device_accept(self, str(token))


class BackupCode(models.Model):
    """A single-use recovery code, stored as a keyed hash."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backup_codes"
    )
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "code_hash"], name="accounts_backup_code_uq"),
        ]

    def __str__(self) -> str:
        return f"backup code {self.pk} of {self.user_id}"


class TokenFamily(models.Model):
    """Every refresh token descended from one sign-in at the token endpoint.

    Presenting a refresh token that was already rotated revokes the family:
    whoever holds the newest token (the thief or the owner) loses it.
    """

    class RevokedReason(models.TextChoices):
        REUSE = "reuse", "Rotated refresh token presented again"
        SIGN_OUT = "sign_out", "Signed out"
        TERMINATED = "terminated", "User terminated"
        CREDENTIALS = "credentials", "Credentials changed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="token_families"
    )
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=20, choices=RevokedReason.choices, blank=True)

    class Meta:
        verbose_name_plural = "token families"
        indexes = [models.Index(fields=["user", "revoked_at"])]

    def __str__(self) -> str:
        return f"token family {self.public_id}"


class RefreshRecord(models.Model):
    """One issued refresh token (by its ``jti``); ``used_at`` set means rotated."""

    jti = models.CharField(max_length=64, unique=True)
    family = models.ForeignKey(TokenFamily, on_delete=models.CASCADE, related_name="refreshes")
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"refresh {self.jti}"


class ApiKey(models.Model):
    """A long-lived API credential: ``cx_<prefix>_<secret>``, shown once.

    Only the SHA-256 of the whole key is stored: the secret has 256 bits of
    entropy, so a slow hash would add cost on every request and no safety.
    """

    class Kind(models.TextChoices):
        PERSONAL = "personal", "Personal"
        SERVICE = "service", "Service"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.PERSONAL)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="api_keys"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list, help_text="Permission codes this key may use.")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    rotated_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="rotated_to"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    def is_usable(self, now: object = None) -> bool:
        moment = now or timezone.now()
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > moment


class IpAllowlistEntry(models.Model):
    """A CIDR range (IPv4 or IPv6) from which an organization may be reached.

    An organization without entries is reachable from anywhere.
    """

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="ip_allowlist"
    )
    cidr = models.CharField(max_length=64)
    description = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "IP allowlist entries"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "cidr"], name="accounts_ip_allowlist_uq"
            ),
        ]

    def __str__(self) -> str:
        return self.cidr


class OrganizationAccessPolicy(models.Model):
    """Where an organization may be reached from, beyond its IP allowlist."""

    organization = models.OneToOneField(
        "accounts.Organization", on_delete=models.CASCADE, related_name="access_policy"
    )
    # ISO 3166-1 alpha-2 codes refused, looked up in the offline database.
    blocked_countries = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "organization access policies"

    def __str__(self) -> str:
        return f"access policy of {self.organization_id}"


class LockoutEpisode(models.Model):
    """One lockout of an account or an address, from lock to unlock.

    django-axes keeps only attempt counters and ends a cool-off lazily (old
    attempts stop counting; nothing happens at the moment it ends), so the
    unlock is recorded here when first observed, once: closing an episode is
    a conditional UPDATE of ``unlocked_at``, and at most one episode per
    subject is open (partial unique constraint).
    """

    class Kind(models.TextChoices):
        ACCOUNT = "account", "Account"
        ADDRESS = "address", "Address"

    class UnlockReason(models.TextChoices):
        COOL_OFF_EXPIRED = "cool_off_expired", "Cool-off expired"
        MANUAL = "manual", "Unlocked by an administrator"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    # The folded e-mail for an account (as axes stores it), or the address.
    subject = models.CharField(max_length=255)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    locked_at = models.DateTimeField(default=timezone.now)
    unlocked_at = models.DateTimeField(null=True, blank=True)
    unlock_reason = models.CharField(max_length=20, choices=UnlockReason.choices, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject"],
                condition=models.Q(unlocked_at__isnull=True),
                name="accounts_lockout_one_open",
            ),
        ]
        indexes = [models.Index(fields=["unlocked_at", "kind"], name="accounts_lockout_open_idx")]

    def __str__(self) -> str:
        return f"{self.kind} lockout ({'open' if self.unlocked_at is None else 'closed'})"
