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


def encrypted_fields_rotate(batch_size: int = 500) -> dict[str, int]:
    """Re-encrypt, under the ring's current key, every value sealed by an older one.

    Returns the number of rows rewritten per ``app_label.Model.field``. Safe
    to run twice: rows already under the current key are skipped.
    """
    from django.apps import apps
    from django.db import transaction
    from django.db.models.functions import Cast

    ring = keyring()
    current = ring.current_id + ":"
    rewritten: dict[str, int] = {}
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if not isinstance(field, EncryptedTextField):
                continue
            label = f"{model._meta.label}.{field.name}"
            rewritten[label] = 0
            # Cast to plain text to read the stored form with its key id.
            stale = [
                pk
                for pk, raw in model._default_manager.annotate(
                    _raw=Cast(field.name, models.TextField())
                ).values_list("pk", "_raw")
                if raw is not None and not raw.startswith(current)
            ]
            for start in range(0, len(stale), batch_size):
                with transaction.atomic():
                    for obj in model._default_manager.filter(
                        pk__in=stale[start : start + batch_size]
                    ):
                        model._default_manager.filter(pk=obj.pk).update(
                            **{field.name: getattr(obj, field.attname)}
                        )
                        rewritten[label] += 1
    return rewritten
