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


def encrypted_fields() -> list[tuple[type[models.Model], EncryptedTextField]]:
    """Every encrypted field of every installed model, from the models' metadata."""
    from django.apps import apps

    return [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]


def stored_key_ids(model: type[models.Model], field: EncryptedTextField) -> Any:
    """A queryset of (pk, key id) as stored, without decrypting anything."""
    from django.db.models.functions import Cast, StrIndex, Substr

    raw = Cast(field.name, models.TextField())
    return (
        model._default_manager.exclude(**{f"{field.name}__isnull": True})
        .annotate(_key_id=Substr(raw, 1, StrIndex(raw, models.Value(":")) - 1))
        .values_list("pk", "_key_id")
    )


def encrypted_fields_rotate(batch_size: int = 500) -> dict[str, int]:
    """Re-encrypt, under the ring's current key, every value sealed by an older one.

    Returns the number of rows rewritten per ``app_label.Model.field``. Safe
    to run twice: rows already under the current key are skipped. Runs
    beside the live site: each batch is one short transaction that locks
    its rows (``FOR UPDATE SKIP LOCKED``: a row someone is writing now is
    left for the next batch, not waited on), reads them decrypted, and
    writes them back sealed with the current key in one UPDATE. A write the
    site makes meanwhile is already under the current key.
    """
    from django.db import transaction
    from django.db.models.functions import Cast

    ring = keyring()
    current = ring.current_id + ":"
    rewritten: dict[str, int] = {}
    for model, field in encrypted_fields():
        label = f"{model._meta.label}.{field.name}"
        rewritten[label] = 0
        # The stored form names its key: select the stale rows in SQL.
        stale = (
            model._default_manager.annotate(_raw=Cast(field.name, models.TextField()))
            .exclude(_raw=None)
            .exclude(_raw__startswith=current)
            .order_by("pk")
        )
        after: Any = None
        while True:
            with transaction.atomic():
                window = stale if after is None else stale.filter(pk__gt=after)
                pks = list(
                    window.select_for_update(skip_locked=True).values_list("pk", flat=True)[
                        :batch_size
                    ]
                )
                if not pks:
                    break
                rows = list(model._default_manager.filter(pk__in=pks).only("pk", field.attname))
                model._default_manager.bulk_update(rows, [field.attname])
            rewritten[label] += len(rows)
            after = pks[-1]
    return rewritten
