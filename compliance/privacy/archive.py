"""Encrypted archives written before rows are deleted, and their retrieval.

Each archive is one batch of rows as gzip-compressed JSON lines, encrypted
with AES-256-GCM, saved through the ``privacy_archive`` storage (a folder by
default; any django-storages backend in production).
"""

from __future__ import annotations

import gzip
import io
import json
import logging
from collections.abc import Iterable
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.core.serializers.json import DjangoJSONEncoder

from compliance.models import ArchiveObject, RetentionRun
from compliance.privacy import crypto

logger = logging.getLogger(__name__)


class ArchiveJSONEncoder(DjangoJSONEncoder):
    """Django's encoder, plus binary columns (the audit chain's salts) as hex."""

    def default(self, o: object) -> object:
        if isinstance(o, bytes | memoryview):
            return bytes(o).hex()
        return super().default(o)


def archive_storage() -> Storage:
    return storages["privacy_archive"]


def archive_write(
    *,
    data_type: str,
    run: RetentionRun | None,
    number: int,
    rows: Iterable[dict[str, Any]],
) -> ArchiveObject:
    """Write ``rows`` as one encrypted archive; rewriting the same batch of a
    resumed run replaces its file, so a retry never leaves two copies."""
    plain = io.BytesIO()
    first_pk = last_pk = None
    count = 0
    with gzip.GzipFile(fileobj=plain, mode="wb", mtime=0) as compressed:
        for row in rows:
            compressed.write(json.dumps(row, cls=ArchiveJSONEncoder, sort_keys=True).encode())
            compressed.write(b"\n")
            first_pk = row["id"] if first_pk is None else first_pk
            last_pk = row["id"]
            count += 1
    run_part = run.public_id.hex if run is not None else "manual"
    name = f"{data_type}/{run_part}/{number:06d}.jsonl.gz.enc"

    encrypted = io.BytesIO()
    plain.seek(0)
    digest = crypto.encrypt_stream(plain, encrypted, purpose="archive")
    storage = archive_storage()
    if storage.exists(name):
        storage.delete(name)
    saved = storage.save(name, ContentFile(encrypted.getvalue()))

    archive, _ = ArchiveObject.objects.update_or_create(
        name=saved,
        defaults={
            "data_type": data_type,
            "run": run,
            "row_count": count,
            "first_pk": first_pk or 0,
            "last_pk": last_pk or 0,
            "ciphertext_sha256": digest,
        },
    )
    logger.info("archive.written", extra={"archive_id": archive.pk, "rows": count})
    return archive


def archive_read(archive: ArchiveObject) -> list[dict[str, Any]]:
    """Decrypt and return the rows of ``archive``; raise if it was altered."""
    with archive_storage().open(archive.name, "rb") as handle:
        data = handle.read()
    plain = crypto.decrypt_bytes(data, purpose="archive")
    lines = gzip.decompress(plain).splitlines()
    return [json.loads(line) for line in lines if line]
