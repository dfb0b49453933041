"""
The product's key rings: AES-256-GCM keys with ids, one ring per purpose.

``FIELD_ENCRYPTION_KEYS`` lists the keys of encrypted model fields as
``id:base64key`` separated by commas, newest first. The first key encrypts;
every key decrypts, so a key can be retired by re-encrypting the rows that
name it and then dropping it (``manage.py rotate_keys``). Production
refuses to start without the variable (see settings); the embedded default
and the tests derive one key from the development secret, which is never
valid in production.

``ARCHIVE_ENCRYPTION_KEY`` and ``BACKUP_ENCRYPTION_KEY`` are rings of the
same kind for retention archives and database backups
(``compliance/privacy/crypto.py``), kept apart from the field keys so that a
backup can be restored with its own key alone. Each takes the same
``id:base64key,...`` list, or a single key as 64 hexadecimal characters
(its id is then derived from its fingerprint).

What is known of each key besides the secret (when it was created, when it
was retired) is recorded in ``compliance.EncryptionKey``; the secrets never
reach the database.
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

    def fingerprint(self, key_id: str) -> str:
        """Name the key without revealing it: HMAC-SHA256 of a fixed label."""
        return key_fingerprint(self.key(key_id))

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


def key_fingerprint(secret: bytes) -> str:
    return hmac.new(secret, b"cloudexpress-key-fingerprint", hashlib.sha256).hexdigest()


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


def generate_key_spec(key_id: str) -> str:
    """Return ``id:base64key`` for a new random key, for a ring's head."""
    if not key_id or not set(key_id) <= _KEY_ID_CHARS:
        raise KeyRingError("a key id is letters, digits, _ or -")
    return f"{key_id}:{base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()}"


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


PURPOSE_SETTINGS = {"archive": "ARCHIVE_ENCRYPTION_KEY", "backup": "BACKUP_ENCRYPTION_KEY"}


def parse_purpose_keys(raw: str, *, purpose: str) -> KeyRing:
    """Parse an archive or backup key setting: a ring, or one hex key."""
    text = raw.strip()
    if len(text) == 2 * KEY_BYTES and all(c in "0123456789abcdefABCDEF" for c in text):
        secret = bytes.fromhex(text)
        return KeyRing(((f"{purpose}-{key_fingerprint(secret)[:12]}", secret),))
    return parse_keys(text)


def development_purpose_keys(secret_key: str, *, purpose: str) -> KeyRing:
    """The embedded and test modes' one key for ``purpose``, from the secret."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    secret = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=None,
        info=f"cloudexpress-{purpose}".encode(),
    ).derive(secret_key.encode())
    return KeyRing(((f"dev-{purpose}", secret),))


@lru_cache(maxsize=8)
def _purpose_ring_for(raw: str, purpose: str, secret_key: str, production: bool) -> KeyRing:
    if raw:
        return parse_purpose_keys(raw, purpose=purpose)
    if production:
        raise KeyRingError(f"{PURPOSE_SETTINGS[purpose]} is required in production")
    return development_purpose_keys(secret_key, purpose=purpose)


def purpose_keyring(purpose: str) -> KeyRing:
    """Return the ring of ``purpose`` ("archive" or "backup")."""
    from django.conf import settings

    raw = getattr(settings, PURPOSE_SETTINGS[purpose], "")
    return _purpose_ring_for(raw, purpose, settings.SECRET_KEY, settings.PRODUCTION)
