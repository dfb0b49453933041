"""The evidence room: reads for a chosen period, the audit of every view and
download, and the writes of evidence requests."""

from __future__ import annotations

import hashlib
import logging
from datetime import date, datetime
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.authorization import membership_current, permission_require, user_has_perm
from accounts.models import Organization, User
from audit.models import SecurityEvent
from audit.services import security_event_record
from cloudexpress.api.exceptions import ServiceError
from cloudexpress.dbvendor import lock_for_transaction
from compliance.checks import registry
from compliance.models import (
    Attestation,
    AuditLiaison,
    Control,
    ControlScore,
    EvidenceRequest,
    EvidenceResponseFile,
    Result,
    Run,
)
from compliance.reports.data import _evidence_sha256
from compliance.reports.periods import report_period_bounds

# What the liaison needs to answer: files go in as evidence.
LIAISON_PERMISSION = "evidence.upload"
# Who names the liaison and reassigns requests: those who change the
# organization's settings (admins and owners), never an auditor.
DESIGNATE_PERMISSION = "settings.manage"

logger = logging.getLogger(__name__)


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return report_period_bounds(start, end)


def evidence_period_runs(start: date, end: date) -> list[Run]:
    low, high = _bounds(start, end)
    return list(
        Run.objects.filter(
            status=Run.Status.DONE,
            scope=Run.Scope.FULL,
            started_at__gte=low,
            started_at__lt=high,
        ).order_by("-started_at", "-id")
    )


def evidence_controls(start: date, end: date) -> dict[str, Any]:
    """Every active control with its status in the period's last run."""
    runs = evidence_period_runs(start, end)
    last = runs[0] if runs else None
    scores = (
        {s.control_id: s.status for s in ControlScore.objects.filter(run=last)} if last else {}
    )
    low, high = _bounds(start, end)
    controls = Control.objects.filter(is_active=True).order_by("code")
    attestation_counts: dict[int, int] = {}
    for control_id in Attestation.objects.filter(
        created_at__gte=low, created_at__lt=high
    ).values_list("control_id", flat=True):
        attestation_counts[control_id] = attestation_counts.get(control_id, 0) + 1
    return {
        "runs": len(runs),
        "last_run": last,
        "controls": [
            {
                "control": control,
                "status": scores.get(control.pk, "not_run"),
                "attestations": attestation_counts.get(control.pk, 0),
            }
            for control in controls
        ],
    }


def evidence_control(code: str, start: date, end: date) -> dict[str, Any] | None:
    """One control's results per run and its attestations, in the period."""
    control = Control.objects.filter(code=code, is_active=True).first()
    if control is None:
        return None
    low, high = _bounds(start, end)
    specs = registry.registered()
    check_ids = sorted(spec.id for spec in specs.values() if control.code in spec.controls)
    results = [
        {
            "result": result,
            "title": specs[result.check_id].title if result.check_id in specs else "",
            "sha256": _evidence_sha256(result.evidence),
        }
        for result in Result.objects.filter(
            check_id__in=check_ids,
            run__status=Run.Status.DONE,
            run__scope=Run.Scope.FULL,
            run__started_at__gte=low,
            run__started_at__lt=high,
        )
        .select_related("run")
        .order_by("-run__started_at", "check_id")
    ]
    attestations = list(
        Attestation.objects.filter(control=control, created_at__gte=low, created_at__lt=high)
        .select_related("attested_by", "reviewed_by")
        .order_by("-created_at")
    )
    return {"control": control, "results": results, "attestations": attestations}


def evidence_access_record(
    *, user: Any, event_type: str, subject: str, period: tuple[date, date] | None = None
) -> None:
    """Record one view or download of evidence as a security event."""
    detail: dict[str, Any] = {"subject": subject}
    if period is not None:
        detail["period"] = [period[0].isoformat(), period[1].isoformat()]
    security_event_record(event_type=event_type, actor=user, detail=detail)


def evidence_viewed_record(user: Any, subject: str, period: tuple[date, date] | None) -> None:
    evidence_access_record(
        user=user, event_type=SecurityEvent.Type.EVIDENCE_VIEWED, subject=subject, period=period
    )


def evidence_downloaded_record(user: Any, subject: str) -> None:
    evidence_access_record(
        user=user, event_type=SecurityEvent.Type.EVIDENCE_DOWNLOADED, subject=subject
    )


# --- The audit liaison ---------------------------------------------------------


def operator_organization() -> Organization:
    """The organization whose compliance program the evidence room shows."""
    organization = Organization.objects.filter(is_operator=True).first()
    if organization is None:
        raise ServiceError(
            "There is no operator organization to designate a liaison for.",
            code="no_operator_organization",
            status_code=409,
        )
    return organization


def audit_liaison_get(organization: Organization | None = None) -> Any | None:
    """The designated audit liaison of the organization (the operator's by
    default), or None when nobody is designated."""
    queryset = AuditLiaison.objects.select_related("user")
    if organization is None:
        queryset = queryset.filter(organization__is_operator=True)
    else:
        queryset = queryset.filter(organization=organization)
    designation = queryset.first()
    return designation.user if designation is not None else None


def _liaison_member(*, email: str, organization: Organization) -> Any:
    """The member named by ``email`` if they may act as audit liaison: a
    current member of the organization holding evidence.upload. Auditors
    never do, their role being read-only."""
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None or membership_current(user, organization) is None:
        raise ServiceError(
            f"{email.strip()} is not a current member of {organization.name}.", code="invalid"
        )
    if not user_has_perm(user, LIAISON_PERMISSION, organization, record_denial=False):
        raise ServiceError(
            f"{email.strip()} does not hold {LIAISON_PERMISSION!r}, which answering needs.",
            code="invalid",
        )
    return user


@transaction.atomic
def audit_liaison_designate(*, email: str, actor: Any) -> AuditLiaison:
    """Designate the operator organization's audit liaison, by e-mail.

    Open requests nobody is assigned to go to the new liaison; requests
    already assigned stay with their liaison until an admin reassigns them.
    The change is a security event (settings.changed) and, through
    django-auditlog, an entry in the audit trail."""
    organization = operator_organization()
    permission_require(actor, DESIGNATE_PERMISSION, organization)
    user = _liaison_member(email=email, organization=organization)
    lock_for_transaction(f"audit-liaison:{organization.pk}")

    designation = AuditLiaison.objects.filter(organization=organization).first()
    previous = designation.user_id if designation is not None else None
    if designation is None:
        designation = AuditLiaison(organization=organization)
    designation.user = user
    designation.designated_by = actor
    designation.designated_at = timezone.now()
    designation.save()

    assigned = EvidenceRequest.objects.filter(
        liaison__isnull=True, status=EvidenceRequest.Status.OPEN
    ).update(liaison=user)
    security_event_record(
        event_type=SecurityEvent.Type.SETTINGS_CHANGED,
        actor=actor,
        target_user=user,
        organization=organization,
        detail={
            "setting": "audit_liaison",
            "previous_user": previous,
            "user": user.pk,
            "requests_assigned": assigned,
        },
    )
    logger.info("evidence.liaison_designated", extra={"user_id": user.pk})
    return designation


@transaction.atomic
def evidence_request_reassign(
    *, request: EvidenceRequest, email: str, actor: Any
) -> EvidenceRequest:
    """Give a request that is not closed to another liaison, who alone may
    answer it from now on."""
    organization = operator_organization()
    permission_require(actor, DESIGNATE_PERMISSION, organization)
    user = _liaison_member(email=email, organization=organization)
    locked = EvidenceRequest.objects.select_for_update().get(pk=request.pk)
    if locked.status == EvidenceRequest.Status.CLOSED:
        raise ServiceError("This request is closed.", code="conflict", status_code=409)
    if locked.requested_by_id == user.pk:
        raise ServiceError("Nobody answers their own request.", code="invalid")

    previous = locked.liaison_id
    locked.liaison = user
    locked.save(update_fields=["liaison"])
    security_event_record(
        event_type=SecurityEvent.Type.SETTINGS_CHANGED,
        actor=actor,
        target_user=user,
        organization=organization,
        detail={
            "setting": "evidence_request_liaison",
            "request": str(locked.public_id),
            "previous_user": previous,
            "user": user.pk,
        },
    )
    logger.info("evidence.request_reassigned", extra={"request_id": str(locked.public_id)})
    return locked


# --- Requests ------------------------------------------------------------------


def evidence_request_create(
    *, user: Any, control: Control, question: str, due_on: date
) -> EvidenceRequest:
    """Ask for evidence; the request goes to the designated audit liaison."""
    if due_on < timezone.localdate():
        raise ServiceError("The due date must not be in the past.", code="invalid")
    request = EvidenceRequest.objects.create(
        control=control,
        requested_by=user,
        question=question.strip(),
        due_on=due_on,
        liaison=audit_liaison_get(),
    )
    logger.info("evidence.request_created", extra={"request_id": str(request.public_id)})
    return request


def _sha256_of(upload: UploadedFile) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


@transaction.atomic
def evidence_request_answer(
    *, request: EvidenceRequest, liaison: Any, note: str, files: list[UploadedFile]
) -> EvidenceRequest:
    """The assigned liaison's answer: a note and files; the request becomes
    answered. Every refusal comes before the first write."""
    locked = EvidenceRequest.objects.select_for_update().get(pk=request.pk)
    if locked.status == EvidenceRequest.Status.CLOSED:
        raise ServiceError("This request is closed.", code="conflict", status_code=409)
    if locked.requested_by_id == getattr(liaison, "pk", None):
        raise ServiceError("Nobody answers their own request.", code="invalid")
    if locked.liaison_id is None:
        raise ServiceError(
            "No audit liaison is assigned to this request yet.", code="forbidden", status_code=403
        )
    if locked.liaison_id != getattr(liaison, "pk", None):
        raise ServiceError(
            "Only the audit liaison assigned to this request answers it.",
            code="forbidden",
            status_code=403,
        )
    for upload in files:
        EvidenceResponseFile.objects.create(
            request=locked,
            file=upload,
            file_name=(upload.name or "file")[:200],
            sha256=_sha256_of(upload),
            size=upload.size or 0,
            uploaded_by=liaison,
        )
    locked.answer_note = note.strip()
    locked.status = EvidenceRequest.Status.ANSWERED
    locked.answered_at = timezone.now()
    locked.save(update_fields=["answer_note", "status", "answered_at"])
    logger.info("evidence.request_answered", extra={"request_id": str(locked.public_id)})
    return locked


def evidence_request_close(*, request: EvidenceRequest, user: Any) -> EvidenceRequest:
    """The requesting auditor closes an answered request; closing twice is a no-op."""
    if request.requested_by_id != getattr(user, "pk", None):
        raise ServiceError("Only the auditor who asked closes the request.", code="forbidden")
    EvidenceRequest.objects.filter(pk=request.pk).exclude(
        status=EvidenceRequest.Status.CLOSED
    ).update(status=EvidenceRequest.Status.CLOSED, closed_at=timezone.now())
    request.refresh_from_db()
    return request


def evidence_requests_list() -> list[EvidenceRequest]:
    """Open and answered requests first, each by due date, then closed ones."""
    order: dict[str, int] = {EvidenceRequest.Status.OPEN: 0, EvidenceRequest.Status.ANSWERED: 1}
    rows = list(
        EvidenceRequest.objects.select_related("control", "requested_by", "liaison")
        .prefetch_related("files")
        .order_by("due_on", "id")
    )
    return sorted(rows, key=lambda r: (order.get(r.status, 2), r.due_on))
