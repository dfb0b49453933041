"""Backups: a real pg_dump of the test database, encrypted, copied, restored
into a scratch database by the restore test with matching counts and
checksums; tiered retention; tamper detection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.storage import storages
from django.db import connection

from compliance.models import BackupRecord, JobRun, RestoreTest
from compliance.privacy import backups, crypto
from tests import factories


@pytest.fixture(autouse=True)
def _backup_folders(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "backups")},
        },
        "backups_copy": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "copy")},
        },
    }
    storages._storages = {}
    yield
    storages._storages = {}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_backup_restores_into_a_scratch_database_with_matching_counts() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("pg_dump needs PostgreSQL")
    for _ in range(5):
        factories.MembershipFactory()

    record = backups.backup_create()

    assert record.copied is True
    assert record.manifest["accounts_user"]["rows"] == 5
    assert record.manifest["accounts_membership"]["rows"] == 5
    raw = storages["backups"].open(record.name, "rb").read()
    assert raw.startswith(crypto.MAGIC)
    assert b"PGDMP" not in raw[:64]  # encrypted, not a bare custom-format dump
    assert storages["backups_copy"].open(record.name, "rb").read() == raw

    # A change after the backup is not in it: the restore compares with the
    # manifest taken in the dump's own snapshot, not with the live database.
    factories.UserFactory()
    test = backups.restore_test_run()

    assert test.status == RestoreTest.Status.PASSED, (test.error, test.mismatches)
    assert test.mismatches == {}
    assert test.tables_compared == len(record.manifest) > 10
    assert test.rto_met and test.rpo_met
    assert test.duration_seconds > 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'cx_restore_%%'")
        assert cursor.fetchone()[0] == 0  # the scratch database is gone


@pytest.mark.django_db
def test_a_tampered_backup_fails_its_restore_test(tmp_path) -> None:
    BackupRecord.objects.create(vendor="postgresql", name="x/tampered.enc", manifest={"t": {}})
    data = bytearray(crypto.encrypt_bytes(b"PGDMP not really", purpose="backup"))
    data[-20] ^= 1
    path = tmp_path / "backups" / "x"
    path.mkdir(parents=True)
    (path / "tampered.enc").write_bytes(bytes(data))

    test = backups.restore_test_run()

    assert test.status == RestoreTest.Status.FAILED
    assert test.error == "DecryptionError"
    assert not test.rto_met


def test_an_archive_key_cannot_open_a_backup() -> None:
    sealed = crypto.encrypt_bytes(b"secret rows", purpose="backup")
    assert crypto.decrypt_bytes(sealed, purpose="backup") == b"secret rows"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_bytes(sealed, purpose="archive")


def test_production_refuses_a_missing_backup_key(settings) -> None:
    from django.core.exceptions import ImproperlyConfigured

    settings.PRODUCTION = True
    settings.BACKUP_ENCRYPTION_KEY = ""
    with pytest.raises(ImproperlyConfigured):
        crypto.key_for("backup")
    settings.BACKUP_ENCRYPTION_KEY = "ab" * 32
    assert crypto.key_for("backup") == bytes.fromhex("ab" * 32)


def test_tiers_keep_hourly_for_two_days_daily_for_a_month_monthly_for_a_year() -> None:
    now = datetime(2030, 6, 15, 12, 0, tzinfo=UTC)
    hourly = [now - timedelta(hours=h) for h in range(0, 24 * 400, 1)]
    backups_list = list(enumerate(hourly))

    keep = backups.backup_tiers_keep(backups_list, now)
    kept = sorted((hourly[pk] for pk in keep), reverse=True)

    within_two_days = [t for t in kept if now - t <= timedelta(days=2)]
    assert len(within_two_days) == 49  # every hour, both ends included
    days_kept = {t.date() for t in kept if timedelta(days=2) < now - t <= timedelta(days=31)}
    assert len([t for t in kept if timedelta(days=2) < now - t <= timedelta(days=31)]) == len(
        days_kept
    )
    assert len(days_kept) >= 28
    older = [t for t in kept if now - t > timedelta(days=31)]
    assert len(older) == len({(t.year, t.month) for t in older})
    assert all(now - t <= timedelta(days=365) for t in kept)
    assert min(kept) >= now - timedelta(days=365)


@pytest.mark.django_db
def test_the_hourly_job_runs_once_per_hour_slot_and_applies_the_tiers(monkeypatch) -> None:
    made: list[datetime] = []

    def fake_create(*, now=None, alias="default"):
        made.append(now)
        return BackupRecord.objects.create(vendor="postgresql", created_at=now)

    # The dump itself is proven by the real-backup test; here only the slot
    # and the tiers are under test.
    monkeypatch.setattr(backups, "backup_create", fake_create)
    old = BackupRecord.objects.create(
        vendor="postgresql", created_at=datetime(2030, 6, 10, 3, tzinfo=UTC)
    )
    also_old_same_day = BackupRecord.objects.create(
        vendor="postgresql", created_at=datetime(2030, 6, 10, 2, tzinfo=UTC)
    )
    now = datetime(2030, 6, 15, 12, 5, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        first = backups.backup_run()
        second = backups.backup_run()

    assert first is not None and second is None
    assert len(made) == 1
    assert JobRun.objects.filter(job="backup", slot="2030-06-15T12").count() == 1
    old.refresh_from_db()
    also_old_same_day.refresh_from_db()
    assert old.status == BackupRecord.Status.DONE  # newest of its day
    assert also_old_same_day.status == BackupRecord.Status.PRUNED
    from audit.models import AuditLogEntry

    assert (
        AuditLogEntry.objects.filter(
            object_repr=f"Backup {also_old_same_day.public_id} pruned", action=2
        ).count()
        == 1
    )


def test_pg_binaries_come_from_pg_bin_first(monkeypatch, tmp_path) -> None:
    fake = tmp_path / "pg_dump"
    fake.write_text("#!/bin/sh\n")
    monkeypatch.setenv("PG_BIN", str(tmp_path))
    assert backups.pg_binary("pg_dump") == str(fake)


@pytest.mark.django_db(databases=["default", "sqlite"], transaction=True)
def test_the_embedded_sqlite_backup_restores_with_matching_counts() -> None:
    from accounts.models import Organization

    Organization.objects.using("sqlite").create(name="Embedded", slug="embedded")

    record = backups.backup_create(alias="sqlite")
    test = backups.restore_test_run(alias="sqlite")

    assert record.vendor == "sqlite"
    assert record.manifest["accounts_organization"]["rows"] == 1
    assert test.status == RestoreTest.Status.PASSED, (test.error, test.mismatches)
    assert test.tables_compared == len(record.manifest)
