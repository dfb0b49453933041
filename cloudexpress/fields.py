"""Model fields that encrypt with the key ring (``cloudexpress.keyring``)."""

from __future__ import annotations

from typing import Any

from django.db import models

from cloudexpress.keyring import keyring


class EncryptedTextField(models.TextField):
    """Text stored as ``keyid:nonce:ciphertext`` (AES-256-GCM).

    The stored form names its key, so a rotation job can find the rows that
    still use an old key and re-encrypt them. Encrypted values cannot be
    filtered on: pair the field with a blind index (``blind_index``) when a
    lookup by value is needed.
    """

    description = "Text encrypted with the field-encryption key ring"

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None:
            return None
        return keyring().encrypt(str(value))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        return keyring().decrypt(value)

    def get_lookup(self, lookup_name: str) -> Any:
        # A fresh nonce per write means equal plaintexts never compare equal
        # in SQL; refuse lookups instead of silently matching nothing.
        if lookup_name not in {"isnull"}:
            return None
        return super().get_lookup(lookup_name)


def blind_index(value: str, *, purpose: str) -> str:
    """Return the searchable HMAC of ``value`` for the column named by ``purpose``."""
    return keyring().blind_index(value, purpose=purpose)
