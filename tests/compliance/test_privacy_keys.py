"""Key rotation: ``manage.py rotate_keys`` makes and records a key, then
re-encrypts every encrypted field under it in batches while the site runs;
the key's age is what ``cc-encryption-key-age`` reads."""

from __future__ import annotations

import io
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.utils import timezone

from accounts.models import TOTPDevice
from cloudexpress.fields import encrypted_fields, stored_key_ids
from cloudexpress.keyring import generate_key_spec, keyring
from compliance.checks import registry
from compliance.models import EncryptionKey, ResultStatus
from compliance.privacy import keys
from tests.accounts.auth_support import enrolled_device, verified_user

OLD = generate_key_spec("k-old")


def _one_row_per_encrypted_field() -> None:
    """At least one stored value for every encrypted field: a new encrypted
    field without a row here fails the walk below, not silently passes."""
    for i in range(3):
        enrolled_device(verified_user(f"person{i}@example.test"))


def _values() -> dict[tuple[str, Any], str]:
    values = {}
    for model, field in encrypted_fields():
        for row in model._default_manager.exclude(**{f"{field.name}__isnull": True}):
            values[(f"{model._meta.label}.{field.name}", row.pk)] = getattr(row, field.attname)
    return values


def _stored_ids() -> dict[str, set[str]]:
    return {
        f"{model._meta.label}.{field.name}": {key_id for _, key_id in stored_key_ids(model, field)}
        for model, field in encrypted_fields()
    }


@pytest.mark.django_db
def test_rotate_keys_re_encrypts_every_encrypted_field_and_each_value_reads_back(
    settings,
) -> None:
    settings.FIELD_ENCRYPTION_KEYS = OLD
    _one_row_per_encrypted_field()
    before = _values()
    fields = _stored_ids()
    assert fields and all(ids == {"k-old"} for ids in fields.values()), fields

    out = io.StringIO()
    call_command("rotate_keys", "--new-key", stdout=out)
    spec = out.getvalue().strip().splitlines()[-1]
    new_id = spec.split(":", 1)[0]
    record = EncryptionKey.objects.get(key_id=new_id)
    assert record.activated_at is None  # recorded, not yet in the ring
    assert timezone.now() - record.created_at < timedelta(minutes=1)

    settings.FIELD_ENCRYPTION_KEYS = f"{spec},{OLD}"
    out = io.StringIO()
    call_command("rotate_keys", "--batch-size", "2", stdout=out)

    assert f"accounts.TOTPDevice.secret: {len(before)} re-encrypted" in out.getvalue()
    assert _stored_ids() == {label: {new_id} for label in fields}
    assert _values() == before  # every value reads back, under the new key
    record.refresh_from_db()
    assert record.activated_at is not None and record.retired_at is None
    assert EncryptionKey.objects.get(key_id="k-old").retired_at is not None

    # Once more: nothing left to rewrite.
    out = io.StringIO()
    call_command("rotate_keys", stdout=out)
    assert "accounts.TOTPDevice.secret: 0 re-encrypted" in out.getvalue()


@pytest.mark.django_db
def test_a_ring_key_recorded_under_another_fingerprint_is_refused(settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = OLD
    keys.encryption_keys_register()
    settings.FIELD_ENCRYPTION_KEYS = generate_key_spec("k-old")  # same id, other key
    with pytest.raises(Exception, match="recorded for another key"):
        keys.encryption_keys_register()


@pytest.mark.django_db
def test_key_age_fails_past_the_policy_and_passes_after_a_rotation(settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = OLD
    keys.encryption_keys_register()
    EncryptionKey.objects.filter(key_id="k-old").update(
        created_at=timezone.now() - timedelta(days=366)
    )
    outcome = registry.evaluate(registry.get("cc-encryption-key-age")).outcome
    assert outcome.status == ResultStatus.FAIL
    assert any("k-old" in item and "366 days" in item for item in outcome.failing), outcome

    spec, _ = keys.encryption_key_generate()
    settings.FIELD_ENCRYPTION_KEYS = f"{spec},{OLD}"
    keys.encryption_keys_rotate()
    outcome = registry.evaluate(registry.get("cc-encryption-key-age")).outcome
    assert outcome.status == ResultStatus.PASS, outcome
    assert outcome.evidence["keys"]["fields"]["age_days"] == 0


@pytest.mark.django_db
def test_a_value_left_under_a_retired_key_fails_the_check(settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = OLD
    _one_row_per_encrypted_field()
    spec, _ = keys.encryption_key_generate()
    settings.FIELD_ENCRYPTION_KEYS = f"{spec},{OLD}"
    keys.encryption_keys_rotate()
    assert registry.evaluate(registry.get("cc-encryption-key-age")).outcome.status == "pass"

    # A value sealed with the retired key again (a process that still had
    # the old ring): the check names it.
    device = TOTPDevice.objects.first()
    settings.FIELD_ENCRYPTION_KEYS = OLD
    TOTPDevice.objects.filter(pk=device.pk).update(secret=device.secret)
    settings.FIELD_ENCRYPTION_KEYS = f"{spec},{OLD}"
    outcome = registry.evaluate(registry.get("cc-encryption-key-age")).outcome
    assert outcome.status == ResultStatus.FAIL
    assert any("retired key k-old" in item for item in outcome.failing), outcome


@pytest.mark.django_db(transaction=True)
def test_rotation_skips_a_row_a_writer_holds_and_the_next_run_rewrites_it(settings) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    settings.FIELD_ENCRYPTION_KEYS = OLD
    _one_row_per_encrypted_field()
    held = TOTPDevice.objects.order_by("pk").first()
    spec, _ = keys.encryption_key_generate()
    settings.FIELD_ENCRYPTION_KEYS = f"{spec},{OLD}"

    locked, release = threading.Event(), threading.Event()

    def writer() -> None:
        # Another connection: a request editing the device right now.
        try:
            with transaction.atomic():
                TOTPDevice.objects.select_for_update().get(pk=held.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert locked.wait(timeout=30)
        report = keys.encryption_keys_rotate(batch_size=1)
    finally:
        release.set()
        thread.join(timeout=30)

    total = TOTPDevice.objects.count()
    assert report.rewritten["accounts.TOTPDevice.secret"] == total - 1
    assert report.remaining == {"accounts.TOTPDevice.secret": 1}
    assert EncryptionKey.objects.get(key_id="k-old").retired_at is None  # still named

    report = keys.encryption_keys_rotate()
    assert report.rewritten["accounts.TOTPDevice.secret"] == 1
    assert report.remaining == {}
    assert report.retired == ["k-old"]
    assert keyring().current_id == spec.split(":", 1)[0]
