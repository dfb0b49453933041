"""Attestations: a person's proof that a control operates."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any

from django.core.files.base import ContentFile, File
from django.db import transaction
from django.utils import timezone

from cloudexpress.api.exceptions import ServiceError
from compliance.models import Attestation, Classification, Control

logger = logging.getLogger(__name__)


def _digest(upload: File[Any]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
        size += len(chunk)
    upload.seek(0)
    return digest.hexdigest(), size


@transaction.atomic
def attestation_create(
    *,
    control: Control,
    upload: File[Any] | bytes,
    file_name: str,
    statement: str,
    attested_by: Any,
    expires_at: datetime,
    classification: str = Classification.CONFIDENTIAL,
) -> Attestation:
    """Store an uploaded file with its SHA-256 as an attestation of ``control``.

    It counts for the control only once a second person has reviewed it.
    """
    if expires_at <= timezone.now():
        raise ServiceError("An attestation must expire in the future.", code="invalid")
    if classification not in Classification.values:
        raise ServiceError("Unknown classification.", code="invalid")
    file = ContentFile(upload, name=file_name) if isinstance(upload, bytes) else upload
    sha256, size = _digest(file)
    attestation = Attestation(
        control=control,
        statement=statement,
        file_name=file_name[:200],
        sha256=sha256,
        size=size,
        classification=classification,
        attested_by=attested_by,
        expires_at=expires_at,
    )
    attestation.file.save(file_name, file, save=False)
    attestation.save()
    logger.info(
        "attestation.created",
        extra={"attestation_id": attestation.pk, "control": control.code},
    )
    return attestation


@transaction.atomic
def attestation_review(*, attestation: Attestation, reviewer: Any) -> Attestation:
    """Record the review by a second person; nobody reviews their own, and
    an attestation is reviewed once (two reviewers at once: the row lock
    lets the first through and tells the second)."""
    if reviewer.pk == attestation.attested_by_id:
        raise ServiceError(
            "The person who attests cannot review their own attestation.",
            code="self_review",
            status_code=403,
        )
    locked = Attestation.objects.select_for_update().get(pk=attestation.pk)
    if locked.reviewed_at is not None:
        raise ServiceError(
            "This attestation was already reviewed.", code="already_reviewed", status_code=409
        )
    locked.reviewed_by = reviewer
    locked.reviewed_at = timezone.now()
    locked.save(update_fields=["reviewed_by", "reviewed_at"])
    attestation.reviewed_by, attestation.reviewed_at = reviewer, locked.reviewed_at
    logger.info("attestation.reviewed", extra={"attestation_id": attestation.pk})
    return attestation
