"""Signatures of exported packs.

A pack is recorded with its SHA-256 and an HMAC-SHA256 over its id and that
hash. The HMAC key is ``settings.REPORT_SIGNING_KEY`` when set, otherwise it
is derived from SECRET_KEY with HKDF, so the signing key is never the secret
key itself and rotating either invalidates old signatures visibly.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

HKDF_SALT = b"cloudexpress.report-pack"
HKDF_INFO = b"report-pack-signature:v1"


def signing_key() -> tuple[bytes, str]:
    """Return the HMAC key and the name of where it came from."""
    configured = getattr(settings, "REPORT_SIGNING_KEY", "")
    if configured:
        return configured.encode(), "setting:v1"
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=HKDF_SALT, info=HKDF_INFO).derive(
        settings.SECRET_KEY.encode()
    )
    return derived, "hkdf:v1"


def content_sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def pack_signature(*, pack_id: str, sha256: str) -> tuple[str, str]:
    """Return the hex HMAC of a pack and the key id that made it."""
    key, key_id = signing_key()
    message = f"{pack_id}:{sha256}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest(), key_id


def pack_signature_valid(*, pack_id: str, sha256: str, signature: str) -> bool:
    expected, _ = pack_signature(pack_id=pack_id, sha256=sha256)
    return hmac.compare_digest(expected, signature)
