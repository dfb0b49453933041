"""The second factor: TOTP devices and single-use backup codes.

django-otp checks a TOTP time step in memory and saves without a lock, and
deletes static tokens without looking at the row count; under parallel
requests one code could pass several times. Here a code is accepted only by
a conditional UPDATE (``last_t`` moves forward) or DELETE whose row count is
exactly one, so the database decides which single request wins.
"""

from __future__ import annotations

import base64
import logging
import secrets
from typing import Any

import pyotp
import segno
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import BackupCode, Membership, Role, TOTPDevice, User
from audit.models import SecurityEvent
from audit.services import security_event_record
from cloudexpress.fields import blind_index

logger = logging.getLogger(__name__)

PRIVILEGED_KINDS = (Role.Kind.OWNER, Role.Kind.ADMIN)
MAX_THROTTLE_SECONDS = 15 * 60
BACKUP_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


# --- Who must use a second factor ----------------------------------------


def mfa_required_for(user: Any) -> bool:
    """Owners, Admins, operator staff, admin-site users, and every member of
    an organization that requires MFA."""
    if user is None or not getattr(user, "pk", None):
        return False
    if user.is_staff or user.is_superuser:
        return True
    now = timezone.now()
    # One query whatever the number of memberships.
    return (
        Membership.objects.filter(user_id=user.pk, status=Membership.Status.ACTIVE)
        .exclude(expires_at__lte=now)
        .filter(
            Q(role__kind__in=PRIVILEGED_KINDS)
            | Q(organization__require_mfa=True)
            | Q(organization__is_operator=True)
        )
        .exists()
    )


def confirmed_device(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).first()


def mfa_enabled_for(user: Any) -> bool:
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()


# --- TOTP -----------------------------------------------------------------


def _throttle_wait(device: TOTPDevice) -> int:
    """Seconds until ``device`` may be tried again (0: now)."""
    if not device.throttling_failure_count or device.throttling_failure_timestamp is None:
        return 0
    required = min(
        device.get_throttle_factor() * 2 ** (device.throttling_failure_count - 1),
        MAX_THROTTLE_SECONDS,
    )
    elapsed = (timezone.now() - device.throttling_failure_timestamp).total_seconds()
    return max(0, int(required - elapsed + 0.999))


def _matching_step(device: TOTPDevice, code: str) -> int | None:
    """The time step whose code equals ``code`` within the tolerance, if any."""
    if not code.isdigit() or len(code) != device.digits:
        return None
    totp = pyotp.TOTP(device.secret, digits=device.digits, interval=device.step)
    now = timezone.now().timestamp()
    current = int(now // device.step)
    for drift in range(-device.tolerance, device.tolerance + 1):
        step = current + drift
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def totp_device_accept(device: TOTPDevice, code: str) -> bool:
    """Accept ``code`` for ``device`` at most once, whatever runs in parallel."""
    code = (code or "").strip().replace(" ", "")
    if _throttle_wait(device):
        return False
    step = _matching_step(device, code)
    if step is None:
        TOTPDevice.objects.filter(pk=device.pk).update(
            throttling_failure_count=F("throttling_failure_count") + 1,
            throttling_failure_timestamp=timezone.now(),
        )
        device.refresh_from_db(fields=["throttling_failure_count", "throttling_failure_timestamp"])
        return False
    won = TOTPDevice.objects.filter(pk=device.pk, last_t__lt=step).update(
        last_t=step, throttling_failure_count=0, throttling_failure_timestamp=None
    )
    if won != 1:
        return False
    device.last_t = step
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    return True


def totp_device_start(*, user: User) -> TOTPDevice:
    """Create (or restart) the unconfirmed device of an enrolment."""
    TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).delete()
    return TOTPDevice.objects.create(
        user=user, name="Authenticator app", confirmed=False, secret=pyotp.random_base32(32)
    )


def totp_provisioning_uri(device: TOTPDevice) -> str:
    return pyotp.TOTP(device.secret, digits=device.digits, interval=device.step).provisioning_uri(
        name=device.user.email, issuer_name=settings.OTP_TOTP_ISSUER
    )


def totp_qr_data_uri(device: TOTPDevice) -> str:
    """An SVG QR code as a data: URI (the CSP allows data: images, not inline SVG)."""
    svg = segno.make(totp_provisioning_uri(device), error="m").svg_inline(scale=5)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


@transaction.atomic
def totp_device_confirm(*, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm an enrolment with a first code; return fresh backup codes."""
    if not totp_device_accept(device, code):
        security_event_record(
            event_type=SecurityEvent.Type.MFA_FAILED,
            target_user=device.user_id,
            detail={"stage": "enrolment"},
        )
        return None
    TOTPDevice.objects.filter(user_id=device.user_id, confirmed=True).exclude(
        pk=device.pk
    ).delete()
    TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True, confirmed_at=timezone.now())
    device.confirmed = True
    codes = backup_codes_generate(user_id=device.user_id)
    security_event_record(event_type=SecurityEvent.Type.MFA_ENROLLED, target_user=device.user_id)
    return codes


@transaction.atomic
def mfa_reset(*, user: User, actor: Any = None) -> None:
    """Remove every device and backup code; tokens issued before are refused."""
    from accounts.auth.revocation import credentials_revoke

    TOTPDevice.objects.filter(user_id=user.pk).delete()
    BackupCode.objects.filter(user_id=user.pk).delete()
    credentials_revoke(user=user, reason="credentials", sessions=False)
    security_event_record(event_type=SecurityEvent.Type.MFA_REMOVED, actor=actor, target_user=user)


# --- Backup codes ---------------------------------------------------------


def _backup_hash(code: str) -> str:
    normalised = code.strip().lower().replace("-", "").replace(" ", "")
    return blind_index(normalised, purpose="mfa-backup-code")


@transaction.atomic
def backup_codes_generate(*, user_id: int) -> list[str]:
    """Replace the user's backup codes; return the new ones (shown once)."""
    BackupCode.objects.filter(user_id=user_id).delete()
    codes = []
    for _ in range(settings.MFA_BACKUP_CODE_COUNT):
        raw = "".join(secrets.choice(BACKUP_CODE_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    BackupCode.objects.bulk_create(
        [BackupCode(user_id=user_id, code_hash=_backup_hash(code)) for code in codes]
    )
    return codes


def backup_code_use(*, user_id: int, code: str) -> bool:
    """Spend one backup code: True for exactly one request per code."""
    deleted, _ = BackupCode.objects.filter(user_id=user_id, code_hash=_backup_hash(code)).delete()
    return deleted == 1


# --- One check for every way in -------------------------------------------


class MfaResult:
    ACCEPTED = "accepted"
    REFUSED = "refused"
    THROTTLED = "throttled"
    NOT_ENROLLED = "not_enrolled"


def second_factor_verify(*, user: User, code: str, channel: str) -> tuple[str, int]:
    """Check a TOTP or backup code for ``user``; record the outcome.

    Return ``(result, retry_after_seconds)``. Guessing is throttled per
    device (1, 2, 4 ... seconds, at most 15 minutes) for TOTP and backup
    codes alike, so backup codes cannot be used to dodge the throttle.
    """
    device = confirmed_device(user)
    if device is None:
        return MfaResult.NOT_ENROLLED, 0
    wait = _throttle_wait(device)
    if wait:
        security_event_record(
            event_type=SecurityEvent.Type.MFA_FAILED,
            target_user=user,
            detail={"channel": channel, "reason": "throttled"},
        )
        return MfaResult.THROTTLED, wait

    code = (code or "").strip()
    kind = "backup_code" if "-" in code or len(code) > device.digits else "totp"
    if kind == "totp":
        accepted = totp_device_accept(device, code)
    else:
        accepted = backup_code_use(user_id=user.pk, code=code)
        if not accepted:
            TOTPDevice.objects.filter(pk=device.pk).update(
                throttling_failure_count=F("throttling_failure_count") + 1,
                throttling_failure_timestamp=timezone.now(),
            )
        else:
            TOTPDevice.objects.filter(pk=device.pk).update(
                throttling_failure_count=0, throttling_failure_timestamp=None
            )
    security_event_record(
        event_type=SecurityEvent.Type.MFA_SUCCEEDED if accepted else SecurityEvent.Type.MFA_FAILED,
        target_user=user,
        detail={"channel": channel, "kind": kind},
    )
    if accepted:
        return MfaResult.ACCEPTED, 0
    return MfaResult.REFUSED, 0
