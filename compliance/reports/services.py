"""Writes of the reports: request, build, sign and verify packs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from io import BytesIO

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from compliance.models import ReportPack
from compliance.reports import signing
from compliance.reports.data import ReportData, report_data_get
from compliance.reports.render import pack_render

logger = logging.getLogger(__name__)


def report_pack_request(
    *, kind: str, period_start: date, period_end: date, requested_by: User | None
) -> ReportPack:
    """Record a pack request and queue its build once the row is committed."""
    from compliance.reports.tasks import report_pack_build_task

    pack = ReportPack.objects.create(
        kind=kind,
        period_start=period_start,
        period_end=period_end,
        requested_by=requested_by,
        progress_step="Waiting for a worker",
    )
    transaction.on_commit(lambda: report_pack_build_task.delay(pack.pk))
    logger.info("reports.pack_requested", extra={"pack_id": str(pack.public_id), "kind": kind})
    return pack


def _progress_save(pack_pk: int, percent: int, step: str) -> None:
    ReportPack.objects.filter(pk=pack_pk, status=ReportPack.Status.RUNNING).update(
        progress=percent, progress_step=step
    )


def report_pack_build(*, pack_pk: int, data: ReportData | None = None) -> ReportPack | None:
    """Build, sign and store one pack; return None when another worker owns it.

    The claim is a conditional update from queued to running, so a task
    delivered twice builds the pack once.
    """
    claimed = ReportPack.objects.filter(pk=pack_pk, status=ReportPack.Status.QUEUED).update(
        status=ReportPack.Status.RUNNING,
        started_at=timezone.now(),
        progress=5,
        progress_step="Reading the stored results",
    )
    if not claimed:
        logger.info("reports.pack_build_skipped", extra={"pack_pk": pack_pk})
        return None
    pack = ReportPack.objects.get(pk=pack_pk)

    try:
        if data is None:
            data = report_data_get(period_start=pack.period_start, period_end=pack.period_end)
        rendered = pack_render(
            data,
            pack.kind,
            pack_id=str(pack.public_id),
            progress=lambda percent, step: _progress_save(pack_pk, percent, step),
        )
    except Exception as exc:
        ReportPack.objects.filter(pk=pack_pk).update(
            status=ReportPack.Status.FAILED,
            finished_at=timezone.now(),
            progress_step="Failed",
            error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        logger.exception("reports.pack_build_failed", extra={"pack_pk": pack_pk})
        raise

    _progress_save(pack_pk, 95, "Signing and storing")
    pack.refresh_from_db()
    report_pack_store(pack, pdf=rendered.pdf, classification=data.classification)
    pack.page_count = rendered.page_count
    pack.evidence_count = len(data.evidence)
    pack.status = ReportPack.Status.DONE
    pack.progress = 100
    pack.progress_step = "Signed and stored"
    pack.finished_at = timezone.now()
    pack.save()
    logger.info(
        "reports.pack_built",
        extra={"pack_id": str(pack.public_id), "pages": pack.page_count, "kind": pack.kind},
    )
    return pack


def report_pack_store(pack: ReportPack, *, pdf: bytes, classification: str) -> None:
    """Hash, sign and attach the PDF to its row (saved by the caller)."""
    sha256 = signing.content_sha256(pdf)
    signature, key_id = signing.pack_signature(pack_id=str(pack.public_id), sha256=sha256)
    pack.sha256 = sha256
    pack.signature = signature
    pack.signing_key_id = key_id
    pack.size_bytes = len(pdf)
    pack.classification = classification
    pack.file.save(f"{pack.public_id}.pdf", ContentFile(pdf), save=False)


def report_pack_record(
    *, data: ReportData, kind: str, pdf: bytes, page_count: int, pack: ReportPack
) -> ReportPack:
    """Record a pack rendered in the request (the report API) as done."""
    report_pack_store(pack, pdf=pdf, classification=data.classification)
    pack.page_count = page_count
    pack.evidence_count = len(data.evidence)
    pack.status = ReportPack.Status.DONE
    pack.progress = 100
    pack.progress_step = "Done"
    pack.started_at = pack.started_at or pack.created_at
    pack.finished_at = timezone.now()
    pack.save()
    return pack


class VerifyOutcome:
    VALID = "valid"
    CHANGED = "changed"
    UNKNOWN = "unknown"
    BAD_SIGNATURE = "bad_signature"


@dataclass(frozen=True)
class PackVerification:
    outcome: str
    sha256: str
    pack: ReportPack | None
    detail: str

    @property
    def is_valid(self) -> bool:
        return self.outcome == VerifyOutcome.VALID


def _claimed_pack_id(content: bytes) -> str:
    """Return the pack id a PDF says it is, or "" (a changed file may not parse)."""
    from pypdf import PdfReader

    try:
        metadata = PdfReader(BytesIO(content)).metadata
    except Exception:  # any parse failure simply means no claim
        return ""
    if metadata is None:
        return ""
    return str(metadata.get("/cxpackid", ""))[:40]


def report_pack_verify(*, content: bytes) -> PackVerification:
    """Say whether ``content`` is a pack this portal produced, unchanged."""
    sha256 = signing.content_sha256(content)
    pack = ReportPack.objects.filter(sha256=sha256, status=ReportPack.Status.DONE).first()
    if pack is not None:
        if signing.pack_signature_valid(
            pack_id=str(pack.public_id), sha256=sha256, signature=pack.signature
        ):
            detail = f"This is pack {pack.public_id}, unchanged since it was produced."
            result = PackVerification(VerifyOutcome.VALID, sha256, pack, detail)
        else:
            detail = "The file matches a recorded pack, but the record's signature is wrong."
            result = PackVerification(VerifyOutcome.BAD_SIGNATURE, sha256, pack, detail)
    else:
        claimed = _claimed_pack_id(content)
        known = ReportPack.objects.filter(public_id=claimed).first() if _is_uuid(claimed) else None
        if known is not None:
            detail = f"The file says it is pack {known.public_id}, but it was changed."
            result = PackVerification(VerifyOutcome.CHANGED, sha256, known, detail)
        else:
            detail = "The portal did not produce this file, or it was changed."
            result = PackVerification(VerifyOutcome.UNKNOWN, sha256, None, detail)
    logger.info("reports.pack_verified", extra={"outcome": result.outcome})
    return result


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
