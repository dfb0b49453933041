"""Key ring and encrypted field: AES-256-GCM with key ids, rotation, blind index."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test import override_settings

from cloudexpress.fields import blind_index
from cloudexpress.keyring import KeyRingError, keyring, parse_keys
from tests.accounts.auth_support import enrolled_device, verified_user

ROOT = Path(__file__).resolve().parents[2]


def _spec(key_id: str) -> str:
    return f"{key_id}:" + base64.b64encode(os.urandom(32)).decode()


def test_round_trip_and_fresh_nonce_per_encryption() -> None:
    ring = parse_keys(_spec("k1"))
    first, second = ring.encrypt("seed"), ring.encrypt("seed")
    assert first != second
    assert first.startswith("k1:") and len(first.split(":")) == 3
    assert ring.decrypt(first) == ring.decrypt(second) == "seed"


def test_rotation_old_values_still_decrypt_and_new_ones_use_the_first_key() -> None:
    k1 = _spec("k1")
    old = parse_keys(k1)
    token = old.encrypt("seed")
    ring = parse_keys(_spec("k2") + "," + k1)
    assert ring.decrypt(token) == "seed"
    assert ring.needs_rotation(token)
    fresh = ring.encrypt("seed")
    assert ring.key_id_of(fresh) == "k2" and not ring.needs_rotation(fresh)


def test_tampered_or_foreign_ciphertext_is_refused() -> None:
    ring = parse_keys(_spec("k1"))
    key_id, nonce, sealed = ring.encrypt("seed").split(":")
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(KeyRingError):
        ring.decrypt(":".join((key_id, nonce, flipped)))
    with pytest.raises(KeyRingError):
        parse_keys(_spec("k1")).decrypt(ring.encrypt("seed"))
    with pytest.raises(KeyRingError):
        ring.decrypt("k9:abc:def")


@pytest.mark.parametrize(
    "spec", ["", "k1", "k1:" + base64.b64encode(b"short").decode(), "bad id:AAAA", "k1:!!"]
)
def test_malformed_rings_are_refused(spec: str) -> None:
    with pytest.raises(KeyRingError):
        parse_keys(spec)


def test_duplicate_key_ids_are_refused() -> None:
    with pytest.raises(KeyRingError):
        parse_keys(_spec("k1") + "," + _spec("k1"))


@pytest.mark.django_db
def test_totp_secret_is_stored_encrypted_and_read_back_in_clear() -> None:
    device, _ = enrolled_device(verified_user())
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM accounts_totpdevice WHERE id = %s", [device.pk])
        stored = cursor.fetchone()[0]
    assert stored != device.secret
    assert device.secret not in stored
    assert stored.split(":")[0] == keyring().current_id
    assert keyring().decrypt(stored) == device.secret


@pytest.mark.django_db
def test_rows_written_under_an_old_key_read_after_rotation() -> None:
    k1 = _spec("k1")
    with override_settings(FIELD_ENCRYPTION_KEYS=k1):
        device, _ = enrolled_device(verified_user())
        secret = device.secret
    with override_settings(FIELD_ENCRYPTION_KEYS=_spec("k2") + "," + k1):
        device.refresh_from_db()
        assert device.secret == secret
        device.save()
        with connection.cursor() as cursor:
            cursor.execute("SELECT secret FROM accounts_totpdevice WHERE id = %s", [device.pk])
            assert cursor.fetchone()[0].startswith("k2:")


def test_blind_index_is_stable_keyed_and_separated_by_purpose() -> None:
    assert blind_index("a@b.test", purpose="email") == blind_index("a@b.test", purpose="email")
    assert blind_index("a@b.test", purpose="email") != blind_index("a@b.test", purpose="phone")
    with override_settings(FIELD_ENCRYPTION_KEYS=_spec("k1")):
        other = blind_index("a@b.test", purpose="email")
    assert other != blind_index("a@b.test", purpose="email")


def _start_production(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_ENV": "production",
        "SECRET_KEY": "x" * 20 + "abcdefghijklmnopqrstuvwxyz0123456789",
        "ALLOWED_HOSTS": "portal.example.test",
        "DATABASE_URL": "postgres://u@127.0.0.1:1/db",
        "REDIS_URL": "rediss://:redis-password@127.0.0.1:1/0",
        "EMAIL_HOST": "127.0.0.1",
        "PORTAL_BASE_URL": "https://portal.example.test",
        "ARCHIVE_ENCRYPTION_KEY": "ab" * 32,
        "BACKUP_ENCRYPTION_KEY": "cd" * 32,
        **extra,
    }
    return subprocess.run(
        [sys.executable, "-c", "import cloudexpress.settings"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_field_encryption_keys() -> None:
    working = _start_production({"FIELD_ENCRYPTION_KEYS": _spec("k1")})
    assert working.returncode == 0, working.stderr
    missing = _start_production({})
    assert missing.returncode == 2
    assert "FIELD_ENCRYPTION_KEYS is required in production" in missing.stderr
    broken = _start_production({"FIELD_ENCRYPTION_KEYS": "k1:short"})
    assert broken.returncode == 2
    assert "FIELD_ENCRYPTION_KEYS is malformed" in broken.stderr


@pytest.mark.django_db
def test_rotation_job_re_encrypts_old_rows_under_the_current_key_once() -> None:
    from cloudexpress.fields import encrypted_fields_rotate

    k1 = _spec("k1")
    with override_settings(FIELD_ENCRYPTION_KEYS=k1):
        device, _ = enrolled_device(verified_user())
        secret = device.secret
    with override_settings(FIELD_ENCRYPTION_KEYS=_spec("k2") + "," + k1):
        assert encrypted_fields_rotate()["accounts.TOTPDevice.secret"] == 1
        assert encrypted_fields_rotate()["accounts.TOTPDevice.secret"] == 0
        with connection.cursor() as cursor:
            cursor.execute("SELECT secret FROM accounts_totpdevice WHERE id = %s", [device.pk])
            assert cursor.fetchone()[0].startswith("k2:")
        device.refresh_from_db()
        assert device.secret == secret
