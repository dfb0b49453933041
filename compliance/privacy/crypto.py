"""AES-256-GCM for archives and backups, streamed so files of any size pass
through a fixed buffer.

File layout: ``MAGIC (4) | nonce (12) | ciphertext | tag (16)``. The magic
and the purpose name are bound as associated data, so an archive cannot be
passed off as a backup or the other way round.

Keys come from ARCHIVE_ENCRYPTION_KEY and BACKUP_ENCRYPTION_KEY (64 hex
characters). Production requires them; the embedded and test modes derive
them from SECRET_KEY with HKDF so that they need no configuration.
"""

from __future__ import annotations

import hashlib
import os
from typing import IO

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MAGIC = b"CXE1"
NONCE_BYTES = 12
TAG_BYTES = 16
CHUNK = 1024 * 1024

# TODO(merge): take these keys from cloudexpress/keyring.py once it lands, so
# that they carry key ids and rotate with the others.
_SETTING_FOR_PURPOSE = {"archive": "ARCHIVE_ENCRYPTION_KEY", "backup": "BACKUP_ENCRYPTION_KEY"}


class DecryptionError(Exception):
    """The file is not ours, was altered, or the key is wrong."""


def key_for(purpose: str) -> bytes:
    """Return the 32-byte key for ``purpose`` ("archive" or "backup")."""
    setting = _SETTING_FOR_PURPOSE[purpose]
    configured = getattr(settings, setting, "")
    if configured:
        key = bytes.fromhex(configured)
        if len(key) != 32:
            raise ImproperlyConfigured(f"{setting} must be 64 hexadecimal characters")
        return key
    if settings.PRODUCTION:
        raise ImproperlyConfigured(f"{setting} is required in production")
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"cloudexpress-{purpose}".encode()
    ).derive(settings.SECRET_KEY.encode())


def _aad(purpose: str) -> bytes:
    return MAGIC + purpose.encode()


def encrypt_stream(source: IO[bytes], target: IO[bytes], *, purpose: str) -> str:
    """Encrypt ``source`` into ``target``; return the ciphertext's sha256."""
    nonce = os.urandom(NONCE_BYTES)
    encryptor = Cipher(algorithms.AES(key_for(purpose)), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(_aad(purpose))
    digest = hashlib.sha256()

    def write(data: bytes) -> None:
        digest.update(data)
        target.write(data)

    write(MAGIC + nonce)
    while chunk := source.read(CHUNK):
        write(encryptor.update(chunk))
    write(encryptor.finalize() + encryptor.tag)
    return digest.hexdigest()


def encrypt_bytes(data: bytes, *, purpose: str) -> bytes:
    import io

    out = io.BytesIO()
    encrypt_stream(io.BytesIO(data), out, purpose=purpose)
    return out.getvalue()


def decrypt_stream(source: IO[bytes], target: IO[bytes], *, size: int, purpose: str) -> None:
    """Decrypt ``size`` bytes of ``source`` into ``target``.

    GCM authenticates only at the end: ``target`` must be a scratch file
    that the caller discards when this raises.
    """
    header = source.read(len(MAGIC) + NONCE_BYTES)
    if len(header) != len(MAGIC) + NONCE_BYTES or not header.startswith(MAGIC):
        raise DecryptionError("not an encrypted CloudExpress file")
    remaining = size - len(header) - TAG_BYTES
    if remaining < 0:
        raise DecryptionError("file too short")
    decryptor = Cipher(
        algorithms.AES(key_for(purpose)), modes.GCM(header[len(MAGIC) :])
    ).decryptor()
    decryptor.authenticate_additional_data(_aad(purpose))
    while remaining > 0:
        chunk = source.read(min(CHUNK, remaining))
        if not chunk:
            raise DecryptionError("file truncated")
        remaining -= len(chunk)
        target.write(decryptor.update(chunk))
    tag = source.read(TAG_BYTES)
    try:
        target.write(decryptor.finalize_with_tag(tag))
    except Exception as exc:  # cryptography raises InvalidTag, or ValueError on a short tag
        raise DecryptionError("authentication failed: altered file or wrong key") from exc


def decrypt_bytes(data: bytes, *, purpose: str) -> bytes:
    import io

    out = io.BytesIO()
    decrypt_stream(io.BytesIO(data), out, size=len(data), purpose=purpose)
    return out.getvalue()
