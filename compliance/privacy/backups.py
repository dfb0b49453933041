"""Hourly encrypted database backups, tiered retention, and restore tests.

PostgreSQL: ``pg_dump`` in custom format (compressed) inside a repeatable-
read snapshot exported from a second connection, so the per-table row
counts and checksums stored beside the backup describe exactly what the
dump holds. SQLite (the embedded default): the sqlite3 backup API, gzip.
Either way the file is encrypted with AES-256-GCM, saved to the ``backups``
storage and copied to ``backups_copy``.

The restore test restores the newest backup into a scratch database on the
same server, compares every table's count and checksum with the manifest,
drops the scratch database and records its duration against the RTO and
the backup's age against the RPO.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.files.storage import storages
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.utils import timezone

from compliance.models import BackupRecord, JobRun, RestoreTest
from compliance.privacy import crypto

logger = logging.getLogger(__name__)

RTO = timedelta(hours=4)
RPO = timedelta(hours=1)
HOURLY_FOR = timedelta(days=2)
DAILY_FOR = timedelta(days=31)
MONTHLY_FOR = timedelta(days=365)
COMMAND_TIMEOUT = 3 * 3600


def pg_binary(name: str) -> str:
    """Return the path of a PostgreSQL client: PG_BIN first, then PATH."""
    folder = os.environ.get("PG_BIN", "")
    if folder and (Path(folder) / name).is_file():
        return str(Path(folder) / name)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found: set PG_BIN or install the PostgreSQL client")
    return found


def _pg_params(alias: str = DEFAULT_DB_ALIAS, *, dbname: str | None = None) -> dict[str, str]:
    config = connections[alias].settings_dict
    params = {
        "host": str(config.get("HOST") or ""),
        "port": str(config.get("PORT") or ""),
        "user": str(config.get("USER") or ""),
        "password": str(config.get("PASSWORD") or ""),
        "dbname": dbname or str(config["NAME"]),
    }
    return {key: value for key, value in params.items() if value}


def _pg_env(params: dict[str, str]) -> dict[str, str]:
    # The password travels in the environment, never on a command line.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") or k == "PG_BIN"}
    mapping = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD"}
    env.update({mapping[k]: v for k, v in params.items() if k in mapping})
    return env


def _pg_connect(params: dict[str, str], **kwargs: Any) -> Any:
    import psycopg

    return psycopg.connect(**params, **kwargs)  # type: ignore[arg-type]


_PG_TABLES = """
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname
"""


def _pg_manifest(connection: Any) -> dict[str, dict[str, Any]]:
    """Per table: row count and an order-independent checksum of the rows."""
    from psycopg import sql

    manifest: dict[str, dict[str, Any]] = {}
    tables = [row[0] for row in connection.execute(_PG_TABLES).fetchall()]
    for table in tables:
        query = sql.SQL(
            "SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h)), '') "
            "FROM (SELECT md5(t::text) AS h FROM {} t) rows"
        ).format(sql.Identifier(table))
        count, checksum = connection.execute(query).fetchone()
        manifest[table] = {"rows": int(count), "checksum": checksum}
    return manifest


def _sqlite_manifest(path: Path) -> dict[str, dict[str, Any]]:
    manifest: dict[str, dict[str, Any]] = {}
    with sqlite3.connect(path) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        for table in tables:
            hashes = sorted(
                hashlib.md5(repr(row).encode(), usedforsecurity=False).hexdigest()
                for row in connection.execute(f'SELECT * FROM "{table}"')  # noqa: S608
            )
            manifest[table] = {
                "rows": len(hashes),
                "checksum": hashlib.md5(
                    "".join(hashes).encode(), usedforsecurity=False
                ).hexdigest(),
            }
    return manifest


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(crypto.CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _dump_postgresql(target: Path, alias: str) -> dict[str, dict[str, Any]]:
    params = _pg_params(alias)
    with _pg_connect(params) as connection:
        connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = connection.execute("SELECT pg_export_snapshot()").fetchone()[0]
        manifest = _pg_manifest(connection)
        subprocess.run(  # noqa: S603 (fixed binary, no shell, arguments from settings)
            [
                pg_binary("pg_dump"),
                "--format=custom",
                "--compress=6",
                f"--snapshot={snapshot}",
                "--no-owner",
                f"--file={target}",
                params["dbname"],
            ],
            env=_pg_env(params),
            check=True,
            capture_output=True,
            timeout=COMMAND_TIMEOUT,
        )
        connection.execute("COMMIT")
    return manifest


def _dump_sqlite(target: Path, alias: str) -> dict[str, dict[str, Any]]:
    source_path = Path(connections[alias].settings_dict["NAME"])
    copy = target.with_suffix(".sqlite3")
    with sqlite3.connect(source_path) as source, sqlite3.connect(copy) as destination:
        source.backup(destination)
    manifest = _sqlite_manifest(copy)
    with copy.open("rb") as raw, gzip.open(target, "wb") as compressed:
        shutil.copyfileobj(raw, compressed)
    copy.unlink()
    return manifest


def backup_create(*, alias: str = DEFAULT_DB_ALIAS, now: datetime | None = None) -> BackupRecord:
    """Take one backup, encrypt it, store it and its copy."""
    started = time.monotonic()
    now = now or timezone.now()
    vendor = connections[alias].vendor
    name = f"{now:%Y/%m/%d}/cloudexpress-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.{vendor}.enc"
    with tempfile.TemporaryDirectory(prefix="cx-backup-") as scratch:
        dump = Path(scratch) / "dump"
        manifest = (
            _dump_postgresql(dump, alias) if vendor == "postgresql" else _dump_sqlite(dump, alias)
        )
        encrypted = Path(scratch) / "dump.enc"
        with dump.open("rb") as source, encrypted.open("wb") as target:
            digest = crypto.encrypt_stream(source, target, purpose="backup")
        dump.unlink()
        with encrypted.open("rb") as handle:
            saved = storages["backups"].save(name, File(handle))
        with encrypted.open("rb") as handle:
            storages["backups_copy"].save(saved, File(handle))
        size = encrypted.stat().st_size
    copied = _copy_matches(saved, digest)
    record = BackupRecord.objects.create(
        created_at=now,
        vendor=vendor,
        name=saved,
        size_bytes=size,
        ciphertext_sha256=digest,
        copied=copied,
        manifest=manifest,
        duration_seconds=time.monotonic() - started,
    )
    logger.info("backup.created", extra={"backup_id": record.pk, "bytes": size})
    return record


def _copy_matches(name: str, digest: str) -> bool:
    sha = hashlib.sha256()
    with storages["backups_copy"].open(name, "rb") as handle:
        while chunk := handle.read(crypto.CHUNK):
            sha.update(chunk)
    return sha.hexdigest() == digest


def backup_tiers_keep(backups: Iterable[tuple[int, datetime]], now: datetime) -> set[int]:
    """Return the keys to keep: every backup of the last two days, the newest
    of each day for a month, the newest of each month for a year."""
    keep: set[int] = set()
    newest_of_day: dict[Any, tuple[datetime, int]] = {}
    newest_of_month: dict[Any, tuple[datetime, int]] = {}
    for pk, created in backups:
        age = now - created
        if age <= HOURLY_FOR:
            keep.add(pk)
        if age <= DAILY_FOR:
            day = created.date()
            if day not in newest_of_day or created > newest_of_day[day][0]:
                newest_of_day[day] = (created, pk)
        if age <= MONTHLY_FOR:
            month = (created.year, created.month)
            if month not in newest_of_month or created > newest_of_month[month][0]:
                newest_of_month[month] = (created, pk)
    keep.update(pk for _, pk in newest_of_day.values())
    keep.update(pk for _, pk in newest_of_month.values())
    return keep


def backup_prune(*, record: BackupRecord) -> None:
    for alias in ("backups", "backups_copy"):
        storage = storages[alias]
        if record.name and storage.exists(record.name):
            storage.delete(record.name)
    record.status = BackupRecord.Status.PRUNED
    record.pruned_at = timezone.now()
    record.save(update_fields=["status", "pruned_at"])
    _audit_prune(record)


def _audit_prune(record: BackupRecord) -> None:
    """Every deletion leaves an audit entry: which backup files went."""
    from django.contrib.contenttypes.models import ContentType

    from audit.models import AuditLogEntry

    AuditLogEntry(
        content_type=ContentType.objects.get_for_model(BackupRecord),
        object_pk=str(record.pk),
        object_id=record.pk,
        object_repr=f"Backup {record.public_id} pruned",
        action=AuditLogEntry.Action.DELETE,
        additional_data={"backup": str(record.public_id), "created_at": str(record.created_at)},
    ).save()


def backups_tier_apply(*, now: datetime | None = None) -> int:
    """Prune every done backup outside its tier; return how many went."""
    now = now or timezone.now()
    done = BackupRecord.objects.filter(status=BackupRecord.Status.DONE)
    keep = backup_tiers_keep(done.values_list("pk", "created_at"), now)
    pruned = 0
    for record in done.exclude(pk__in=keep):
        backup_prune(record=record)
        pruned += 1
    return pruned


def backup_run(*, now: datetime | None = None) -> BackupRecord | None:
    """The hourly job: one backup per hour slot, then the tiers."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            job = JobRun.objects.create(
                job="backup", slot=f"{now:%Y-%m-%dT%H}", status=JobRun.Status.RUNNING
            )
    except IntegrityError:
        logger.info("backup.slot_taken", extra={"slot": f"{now:%Y-%m-%dT%H}"})
        return None
    try:
        record = backup_create(now=now)
        pruned = backups_tier_apply(now=now)
    except Exception as exc:
        JobRun.objects.filter(pk=job.pk).update(
            status=JobRun.Status.FAILED, error=type(exc).__name__, finished_at=timezone.now()
        )
        logger.exception("backup.failed")
        raise
    JobRun.objects.filter(pk=job.pk).update(
        status=JobRun.Status.DONE,
        finished_at=timezone.now(),
        counts={"backup": record.pk, "pruned": pruned},
    )
    return record


def _decrypt_to(record: BackupRecord, target: Path) -> None:
    storage = storages["backups"]
    with storage.open(record.name, "rb") as source, target.open("wb") as out:
        crypto.decrypt_stream(source, out, size=storage.size(record.name), purpose="backup")


def _compare(expected: dict[str, Any], actual: dict[str, Any]) -> dict[str, Any]:
    mismatches: dict[str, Any] = {}
    for table in sorted(set(expected) | set(actual)):
        if expected.get(table) != actual.get(table):
            mismatches[table] = {"expected": expected.get(table), "restored": actual.get(table)}
    return mismatches


def _restore_postgresql(dump: Path, alias: str) -> dict[str, Any]:
    from psycopg import sql

    params = _pg_params(alias)
    scratch = f"cx_restore_{uuid.uuid4().hex[:12]}"
    admin = _pg_params(alias, dbname="postgres")
    with _pg_connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
    try:
        subprocess.run(  # noqa: S603 (fixed binary, no shell)
            [
                pg_binary("pg_restore"),
                "--no-owner",
                "--exit-on-error",
                f"--dbname={scratch}",
                str(dump),
            ],
            env=_pg_env(params),
            check=True,
            capture_output=True,
            timeout=COMMAND_TIMEOUT,
        )
        with _pg_connect({**params, "dbname": scratch}) as restored:
            return _pg_manifest(restored)
    finally:
        with _pg_connect(admin, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch))
            )


def _restore_sqlite(dump: Path) -> dict[str, Any]:
    restored = dump.with_suffix(".sqlite3")
    with gzip.open(dump, "rb") as compressed, restored.open("wb") as out:
        shutil.copyfileobj(compressed, out)
    return _sqlite_manifest(restored)


def restore_test_run(*, alias: str = DEFAULT_DB_ALIAS) -> RestoreTest:
    """Restore the newest backup into a scratch database and compare."""
    record = (
        BackupRecord.objects.filter(status=BackupRecord.Status.DONE)
        .order_by("-created_at")
        .first()
    )
    if record is None:
        raise LookupError("no backup to restore")
    started_at = timezone.now()
    started = time.monotonic()
    recovery_point = (started_at - record.created_at).total_seconds()
    mismatches: dict[str, Any] = {}
    error = ""
    tables = 0
    try:
        with tempfile.TemporaryDirectory(prefix="cx-restore-") as scratch:
            dump = Path(scratch) / "dump"
            _decrypt_to(record, dump)
            if record.vendor == "postgresql":
                restored = _restore_postgresql(dump, alias)
            else:
                restored = _restore_sqlite(dump)
        tables = len(restored)
        mismatches = _compare(record.manifest, restored)
    except Exception as exc:
        error = type(exc).__name__
        logger.exception("backup.restore_failed", extra={"backup_id": record.pk})
    duration = time.monotonic() - started
    passed = not error and not mismatches and tables > 0
    test = RestoreTest.objects.create(
        backup=record,
        started_at=started_at,
        finished_at=timezone.now(),
        status=RestoreTest.Status.PASSED if passed else RestoreTest.Status.FAILED,
        duration_seconds=duration,
        recovery_point_seconds=recovery_point,
        rto_met=passed and duration <= RTO.total_seconds(),
        rpo_met=recovery_point <= RPO.total_seconds(),
        tables_compared=tables,
        mismatches=mismatches,
        error=error,
    )
    logger.info(
        "backup.restore_tested",
        extra={"backup_id": record.pk, "status": test.status, "seconds": duration},
    )
    return test
