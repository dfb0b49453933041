"""AES-256-GCM for archives and backups, streamed so files of any size pass
through a fixed buffer.

File layout: ``MAGIC (4) | key id length (1) | key id | nonce (12) |
ciphertext | tag (16)``. The magic, the purpose name and the key id are bound
as associated data, so an archive cannot be passed off as a backup or the
other way round, nor its key id swapped.

Keys come from the product's key rings (``cloudexpress/keyring.py``): the
archive ring (ARCHIVE_ENCRYPTION_KEY) and the backup ring
(BACKUP_ENCRYPTION_KEY). A file names the key that sealed it, so after a
rotation (a new key first in the ring) old files still open with the key
kept behind it. Production refuses to start without both (settings); the
embedded and test modes derive one key each from SECRET_KEY.
"""

from __future__ import annotations

import hashlib
import os
from typing import IO

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.core.exceptions import ImproperlyConfigured

from cloudexpress.keyring import KeyRing, KeyRingError, purpose_keyring

MAGIC = b"CXE2"
NONCE_BYTES = 12
TAG_BYTES = 16
CHUNK = 1024 * 1024


class DecryptionError(Exception):
    """The file is not ours, was altered, or the key is wrong."""


def ring_for(purpose: str) -> KeyRing:
    """Return the key ring of ``purpose`` ("archive" or "backup")."""
    try:
        return purpose_keyring(purpose)
    except KeyRingError as exc:
        raise ImproperlyConfigured(str(exc)) from exc


def key_for(purpose: str) -> bytes:
    """Return the 32-byte key that now encrypts ``purpose``'s files."""
    ring = ring_for(purpose)
    return ring.key(ring.current_id)


def _aad(purpose: str, key_id: str) -> bytes:
    return MAGIC + purpose.encode() + b"\x00" + key_id.encode()


def encrypt_stream(source: IO[bytes], target: IO[bytes], *, purpose: str) -> str:
    """Encrypt ``source`` into ``target``; return the ciphertext's sha256."""
    ring = ring_for(purpose)
    key_id = ring.current_id
    nonce = os.urandom(NONCE_BYTES)
    encryptor = Cipher(algorithms.AES(ring.key(key_id)), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(_aad(purpose, key_id))
    digest = hashlib.sha256()

    def write(data: bytes) -> None:
        digest.update(data)
        target.write(data)

    encoded_id = key_id.encode()
    write(MAGIC + bytes([len(encoded_id)]) + encoded_id + nonce)
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
    magic = source.read(len(MAGIC) + 1)
    if len(magic) != len(MAGIC) + 1 or not magic.startswith(MAGIC):
        raise DecryptionError("not an encrypted CloudExpress file")
    key_id = source.read(magic[-1]).decode("ascii", errors="replace")
    nonce = source.read(NONCE_BYTES)
    header = len(magic) + magic[-1] + NONCE_BYTES
    remaining = size - header - TAG_BYTES
    if len(nonce) != NONCE_BYTES or remaining < 0:
        raise DecryptionError("file too short")
    try:
        key = ring_for(purpose).key(key_id)
    except KeyRingError as exc:
        raise DecryptionError("the key that sealed this file is not in the ring") from exc
    decryptor = Cipher(algorithms.AES(key), modes.GCM(nonce)).decryptor()
    decryptor.authenticate_additional_data(_aad(purpose, key_id))
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
