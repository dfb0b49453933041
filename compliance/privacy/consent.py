"""Consent per purpose with versioned texts, and the versioned privacy notice.

Consent records are append-only: the latest record per purpose is the
user's current decision, and the whole table is the history. A grant covers
the purpose version it was given for; publishing a new version asks again.
"""

from __future__ import annotations

import difflib
from typing import Any

from django.db import transaction
from django.db.models import Max

from cloudexpress.api.exceptions import ServiceError
from compliance.models import (
    ConsentPurpose,
    ConsentPurposeVersion,
    ConsentRecord,
    PrivacyNotice,
    PrivacyNoticeAcknowledgement,
)

Decision = ConsentRecord.Decision


@transaction.atomic
def consent_purpose_publish(*, code: str, name: str, text: str) -> ConsentPurposeVersion:
    """Create the purpose if new and publish ``text`` as its next version."""
    purpose, _ = ConsentPurpose.objects.get_or_create(code=code, defaults={"name": name})
    latest = purpose.versions.aggregate(latest=Max("version"))["latest"] or 0
    return ConsentPurposeVersion.objects.create(purpose=purpose, version=latest + 1, text=text)


def _current_version(purpose: ConsentPurpose) -> ConsentPurposeVersion:
    version = purpose.versions.order_by("-version").first()
    if version is None:
        raise ServiceError("This purpose has no published text.", code="consent_unpublished")
    return version


def consent_record(*, user: Any, purpose_code: str, decision: str) -> ConsentRecord:
    """Record a grant, refusal or withdrawal on the purpose's current text."""
    if decision not in Decision.values:
        raise ServiceError("Unknown consent decision.", code="consent_decision")
    purpose = ConsentPurpose.objects.get(code=purpose_code)
    return ConsentRecord.objects.create(
        user=user, purpose=purpose, version=_current_version(purpose), decision=decision
    )


def consent_given(user: Any, purpose_code: str) -> bool:
    """Return whether ``user``'s latest decision grants the current text."""
    latest = (
        ConsentRecord.objects.filter(user=user, purpose__code=purpose_code)
        .order_by("-recorded_at", "-id")
        .select_related("version")
        .first()
    )
    if latest is None or latest.decision != Decision.GRANTED:
        return False
    current = ConsentPurposeVersion.objects.filter(purpose_id=latest.purpose_id).aggregate(
        latest=Max("version")
    )["latest"]
    return latest.version.version == current


def consent_required(user: Any, purpose_code: str) -> None:
    """Purpose limitation: refuse to go on unless ``user`` consented."""
    if not consent_given(user, purpose_code):
        raise ServiceError(
            f"This feature needs your consent for {purpose_code}.",
            code="consent_required",
            status_code=403,
        )


def consent_overview(user: Any) -> list[dict[str, Any]]:
    """Every purpose with its current text and the user's current decision."""
    purposes = list(ConsentPurpose.objects.prefetch_related("versions").order_by("code"))
    latest: dict[int, ConsentRecord] = {}
    for record in (
        ConsentRecord.objects.filter(user=user)
        .select_related("version")
        .order_by("recorded_at", "id")
    ):
        latest[record.purpose_id] = record
    rows = []
    for purpose in purposes:
        versions = sorted(purpose.versions.all(), key=lambda v: v.version)
        if not versions:
            continue
        current = versions[-1]
        decided = latest.get(purpose.pk)
        rows.append(
            {
                "purpose": purpose,
                "version": current,
                "decision": decided.decision if decided else None,
                "granted": bool(
                    decided
                    and decided.decision == Decision.GRANTED
                    and decided.version_id == current.pk
                ),
                "outdated": bool(decided and decided.version_id != current.pk),
            }
        )
    return rows


def consent_history(user: Any) -> list[ConsentRecord]:
    return list(
        ConsentRecord.objects.filter(user=user)
        .select_related("purpose", "version")
        .order_by("-recorded_at", "-id")
    )


def privacy_notice_publish(*, text: str, summary_of_changes: str) -> PrivacyNotice:
    latest = PrivacyNotice.objects.aggregate(latest=Max("version"))["latest"] or 0
    return PrivacyNotice.objects.create(
        version=latest + 1, text=text, summary_of_changes=summary_of_changes
    )


def privacy_notice_status(user: Any) -> dict[str, Any]:
    """The current notice, the last one the user read, and what changed."""
    current = PrivacyNotice.objects.order_by("-version").first()
    if current is None:
        return {"current": None, "acknowledged": None, "changed": False, "diff": []}
    read = (
        PrivacyNoticeAcknowledgement.objects.filter(user=user)
        .select_related("notice")
        .order_by("-notice__version")
        .first()
    )
    last = read.notice if read else None
    diff: list[str] = []
    if last is not None and last.pk != current.pk:
        diff = list(
            difflib.unified_diff(
                last.text.splitlines(),
                current.text.splitlines(),
                fromfile=f"version {last.version}",
                tofile=f"version {current.version}",
                lineterm="",
            )
        )
    return {
        "current": current,
        "acknowledged": last,
        "changed": last is None or last.pk != current.pk,
        "diff": diff,
    }


def privacy_notice_acknowledge(*, user: Any, notice: PrivacyNotice) -> None:
    PrivacyNoticeAcknowledgement.objects.get_or_create(user=user, notice=notice)
