"""Encryption keys: their records, their age, and rotation.

The secrets stay in the environment (``cloudexpress/keyring.py``); this
module records what the compliance engine needs to know about them
(``compliance.EncryptionKey``: creation time, fingerprint, retirement) and
runs a rotation:

1. ``encryption_key_generate`` makes a new field key, records its creation
   time and returns its ``id:base64key`` spec, to be put first in
   FIELD_ENCRYPTION_KEYS (the old keys stay behind it, so every process can
   still read every row) and rolled out;
2. ``encryption_keys_rotate``, once the new key heads the ring, re-encrypts
   every value sealed by an older key, in short batches while the site runs,
   and retires the keys no value names any more. They can then be dropped
   from the ring.

``manage.py rotate_keys`` does both steps (``--new-key`` for the first).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from cloudexpress.fields import encrypted_fields, encrypted_fields_rotate, stored_key_ids
from cloudexpress.keyring import (
    PURPOSE_SETTINGS,
    KeyRing,
    KeyRingError,
    generate_key_spec,
    key_fingerprint,
    keyring,
    parse_keys,
    purpose_keyring,
)
from compliance.models import EncryptionKey

logger = logging.getLogger(__name__)


def _rings() -> dict[str, KeyRing]:
    rings = {EncryptionKey.Purpose.FIELDS.value: keyring()}
    for purpose in PURPOSE_SETTINGS:
        rings[purpose] = purpose_keyring(purpose)
    return rings


@transaction.atomic
def encryption_keys_register(*, now: datetime | None = None) -> list[EncryptionKey]:
    """Record every key of every ring that has no record yet, and mark each
    ring's first key active. A key seen for the first time is dated now: its
    true creation time is unknown, and now is the latest it can be.

    Refuses a ring key whose id was recorded with another fingerprint: a
    reused id would make old values name the wrong key.
    """
    now = now or timezone.now()
    recorded = []
    for purpose, ring in _rings().items():
        for position, (key_id, secret) in enumerate(ring.keys):
            fingerprint = key_fingerprint(secret)
            record, _ = EncryptionKey.objects.get_or_create(
                purpose=purpose,
                key_id=key_id,
                defaults={"fingerprint": fingerprint, "created_at": now},
            )
            if record.fingerprint != fingerprint:
                raise KeyRingError(f"key id {key_id!r} was recorded for another key")
            if position == 0 and record.activated_at is None:
                record.activated_at = now
                record.retired_at = None
                record.save(update_fields=["activated_at", "retired_at"])
            recorded.append(record)
    return recorded


def encryption_key_generate(*, now: datetime | None = None) -> tuple[str, EncryptionKey]:
    """Make a new field key; record it; return its spec and its record.

    The spec holds the secret: the caller shows it once to the operator and
    never logs it.
    """
    now = now or timezone.now()
    key_id = f"f{now:%Y%m%d%H%M%S}"
    spec = generate_key_spec(key_id)
    secret = parse_keys(spec).key(key_id)
    record = EncryptionKey.objects.create(
        purpose=EncryptionKey.Purpose.FIELDS,
        key_id=key_id,
        fingerprint=key_fingerprint(secret),
        created_at=now,
    )
    logger.info("keys.generated", extra={"key_id": key_id})
    return spec, record


@dataclass
class RotationReport:
    current: str
    rewritten: dict[str, int] = field(default_factory=dict)
    # Values still under an older key (rows locked by a writer during the
    # run): a second run rewrites them.
    remaining: dict[str, int] = field(default_factory=dict)
    retired: list[str] = field(default_factory=list)


def field_key_usage() -> dict[str, dict[str, int]]:
    """How many stored values name each key id, per model field."""
    from django.db.models import Count

    usage: dict[str, dict[str, int]] = {}
    for model, encrypted in encrypted_fields():
        label = f"{model._meta.label}.{encrypted.name}"
        counts = (
            stored_key_ids(model, encrypted)
            .values("_key_id")
            .annotate(n=Count("pk"))
            .values_list("_key_id", "n")
            .order_by()
        )
        usage[label] = dict(counts)
    return usage


def encryption_keys_rotate(
    *, batch_size: int = 500, now: datetime | None = None
) -> RotationReport:
    """Re-encrypt every field value under the ring's first key, then retire
    the field keys no value names any more."""
    from audit.models import SecurityEvent
    from audit.services import security_event_record

    now = now or timezone.now()
    encryption_keys_register(now=now)
    ring = keyring()
    report = RotationReport(current=ring.current_id)
    report.rewritten = encrypted_fields_rotate(batch_size=batch_size)

    still_named: set[str] = set()
    for label, counts in field_key_usage().items():
        stale = sum(n for key_id, n in counts.items() if key_id != ring.current_id)
        if stale:
            report.remaining[label] = stale
        still_named.update(counts)
    retiring = EncryptionKey.objects.filter(
        purpose=EncryptionKey.Purpose.FIELDS, retired_at=None
    ).exclude(key_id__in=still_named | {ring.current_id})
    report.retired = sorted(retiring.values_list("key_id", flat=True))
    retiring.update(retired_at=now)
    EncryptionKey.objects.filter(
        purpose=EncryptionKey.Purpose.FIELDS, key_id=ring.current_id
    ).update(rotated=report.rewritten)

    security_event_record(
        event_type=SecurityEvent.Type.SETTINGS_CHANGED,
        detail={
            "change": "encryption_keys_rotated",
            "current_key": ring.current_id,
            "rewritten": sum(report.rewritten.values()),
            "remaining": sum(report.remaining.values()),
            "retired": report.retired,
        },
    )
    logger.info(
        "keys.rotated",
        extra={
            "key_id": ring.current_id,
            "rewritten": sum(report.rewritten.values()),
            "remaining": sum(report.remaining.values()),
        },
    )
    return report


def encryption_key_ages(*, now: datetime) -> dict[str, dict[str, Any]]:
    """The age in days of the key that encrypts, per purpose; None where the
    ring's first key has no record (it was never registered)."""
    ages: dict[str, dict[str, Any]] = {}
    records = {
        (purpose, key_id): created
        for purpose, key_id, created in EncryptionKey.objects.values_list(
            "purpose", "key_id", "created_at"
        )
    }
    for purpose, ring in _rings().items():
        created = records.get((purpose, ring.current_id))
        ages[purpose] = {
            "key_id": ring.current_id,
            "age_days": (now - created).days if created is not None else None,
        }
    return ages
