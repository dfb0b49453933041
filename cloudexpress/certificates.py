"""TLS certificates the deployment serves: their expiry, and the public-key
pins of the current and backup keys for API clients that pin.

Settings: ``TLS_CERTIFICATES`` lists PEM certificate files (the proxy's, the
database's client certificate, ...); ``TLS_BACKUP_PUBLIC_KEYS`` lists PEM
public keys kept offline for the next rotation. A pin is the base64 SHA-256
of the key's DER SubjectPublicKeyInfo, the form RFC 7469 defines, so it
survives a renewal that keeps the key.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CertificateStatus:
    path: str
    subject: str
    not_after: datetime | None
    pin_sha256: str
    error: str = ""

    def expires_within(self, days: int, now: datetime) -> bool:
        return self.not_after is None or self.not_after <= now + timedelta(days=days)


def spki_pin(public_key: PublicKeyTypes) -> str:
    """The RFC 7469 pin of a public key: base64(SHA-256(DER SPKI))."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def certificate_status(path: str | Path) -> CertificateStatus:
    """Read one PEM certificate; an unreadable file is reported, not raised,
    so one bad path does not hide the others from the check."""
    try:
        certificate = x509.load_pem_x509_certificate(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        return CertificateStatus(str(path), "", None, "", error=type(exc).__name__)
    return CertificateStatus(
        path=str(path),
        subject=certificate.subject.rfc4514_string(),
        not_after=certificate.not_valid_after_utc,
        pin_sha256=spki_pin(certificate.public_key()),
    )


def certificates_tracked() -> list[CertificateStatus]:
    return [certificate_status(path) for path in settings.TLS_CERTIFICATES]


def certificates_expiring(
    days: int = 30, *, now: datetime | None = None
) -> list[CertificateStatus]:
    """The tracked certificates that expire within ``days`` (or cannot be
    read): what the compliance check reports as failing."""
    now = now or datetime.now(UTC)
    expiring = [c for c in certificates_tracked() if c.expires_within(days, now)]
    for status in expiring:
        logger.warning(
            "certificates.expiring",
            extra={"path": status.path, "not_after": status.not_after, "error": status.error},
        )
    return expiring


def public_key_pins() -> dict[str, list[str]]:
    """The pins of the keys in service now and of the backup keys."""
    current = sorted({c.pin_sha256 for c in certificates_tracked() if c.pin_sha256})
    backup = []
    for path in settings.TLS_BACKUP_PUBLIC_KEYS:
        try:
            key = serialization.load_pem_public_key(Path(path).read_bytes())
        except (OSError, ValueError):
            logger.warning("certificates.backup_key_unreadable", extra={"path": path})
            continue
        backup.append(spki_pin(key))
    return {"current": current, "backup": sorted(set(backup))}


@require_GET
def pins_view(request: HttpRequest) -> JsonResponse:
    """Published at /.well-known/cloudexpress-pins.json for API clients that
    pin: accept any listed key, so a rotation to a backup key breaks none."""
    pins = public_key_pins()
    return JsonResponse(
        {"algorithm": "sha256", "encoding": "base64", "spki": "SubjectPublicKeyInfo", **pins}
    )
