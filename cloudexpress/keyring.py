"""
The field-encryption key ring: AES-256-GCM keys with ids.

``FIELD_ENCRYPTION_KEYS`` lists the keys as ``id:base64key`` separated by
commas, newest first. The first key encrypts; every key decrypts, so a key
can be retired by re-encrypting the rows that name it and then dropping it.
Production refuses to start without the variable (see settings); the
embedded default and the tests derive one key from the development secret,
which is never valid in production.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
_KEY_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


class KeyRingError(ValueError):
    """The key ring is malformed, or a value names a key it does not hold."""


@dataclass(frozen=True)
class KeyRing:
    keys: tuple[tuple[str, bytes], ...]

    @property
    def current_id(self) -> str:
        return self.keys[0][0]

    def key(self, key_id: str) -> bytes:
        for candidate_id, secret in self.keys:
            if candidate_id == key_id:
                return secret
        raise KeyRingError(f"no key with id {key_id!r} in the ring")

    def encrypt(self, plaintext: str, *, associated_data: bytes = b"") -> str:
        """Return ``keyid:nonce:ciphertext`` (nonce and ciphertext base64url)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.key(self.current_id)).encrypt(
            nonce, plaintext.encode(), associated_data
        )
        return ":".join((self.current_id, _b64(nonce), _b64(sealed)))

    def decrypt(self, token: str, *, associated_data: bytes = b"") -> str:
        try:
            key_id, nonce, sealed = token.split(":")
            plaintext = AESGCM(self.key(key_id)).decrypt(
                _unb64(nonce), _unb64(sealed), associated_data
            )
        except (ValueError, binascii.Error) as exc:
            raise KeyRingError("the value is not a ciphertext of this ring") from exc
        except Exception as exc:  # cryptography's InvalidTag: tampered or wrong key
            raise KeyRingError("the value failed authentication") from exc
        return plaintext.decode()

    def key_id_of(self, token: str) -> str:
        return token.split(":", 1)[0]

    def needs_rotation(self, token: str) -> bool:
        return self.key_id_of(token) != self.current_id

    def blind_index(self, value: str, *, purpose: str) -> str:
        """Return a keyed HMAC-SHA256 of ``value`` for equality lookups.

        The index key is derived from the *oldest* key of the ring, so adding
        a key does not change existing indexes; ``purpose`` separates indexes
        of different columns so equal values do not link across tables.
        """
        base = self.keys[-1][1]
        index_key = hmac.new(base, b"blind-index:" + purpose.encode(), hashlib.sha256).digest()
        return hmac.new(index_key, value.encode(), hashlib.sha256).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_keys(raw: str) -> KeyRing:
    """Parse ``"k2:base64key,k1:base64key"`` into a ring, newest first."""
    keys: list[tuple[str, bytes]] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        key_id, sep, encoded = item.partition(":")
        if not sep or not key_id or not set(key_id) <= _KEY_ID_CHARS:
            raise KeyRingError("each key is id:base64key, the id in letters, digits, _ or -")
        try:
            secret = base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_")
        except (ValueError, binascii.Error) as exc:
            raise KeyRingError(f"key {key_id!r} is not base64") from exc
        if len(secret) != KEY_BYTES:
            raise KeyRingError(f"key {key_id!r} must be {KEY_BYTES} bytes, got {len(secret)}")
        if any(existing == key_id for existing, _ in keys):
            raise KeyRingError(f"key id {key_id!r} appears twice")
        keys.append((key_id, secret))
    if not keys:
        raise KeyRingError("the key ring is empty")
    return KeyRing(tuple(keys))


def development_keys(secret_key: str) -> str:
    """Return a one-key ring spec derived from the development secret."""
    derived = hashlib.sha256(b"cloudexpress-field-encryption:" + secret_key.encode()).digest()
    return "dev1:" + base64.b64encode(derived).decode()


@lru_cache(maxsize=4)
def _ring_for(raw: str) -> KeyRing:
    return parse_keys(raw)


def keyring() -> KeyRing:
    """Return the configured ring (parsed once per distinct setting value)."""
    from django.conf import settings

    return _ring_for(settings.FIELD_ENCRYPTION_KEYS)
