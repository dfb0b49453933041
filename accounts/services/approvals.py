"""Four-eyes approvals (separation of duties, SOC 2 CC5.1, CC6.3).

An operation kind registers an executor; a request is created by one person
holding the kind's request permission, and approved or refused by another
holding ``approvals.decide``. Approval executes the operation at once. Later
issues (retention runs, erasure, key rotation) call
``approval_executor_register`` from their app's ``ready()``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts import authorization
from accounts.models import ApprovalRequest, Organization, User
from cloudexpress.api.exceptions import ServiceError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApprovalExecutor:
    kind: str
    # Runs the approved operation; returns what it did, stored on the request.
    execute: Callable[[ApprovalRequest], dict[str, Any]]
    # Who may ask for the operation.
    request_permission: str
    # Called when a request is refused or cancelled, to undo what waits on it.
    on_refuse: Callable[[ApprovalRequest], None] | None = None


_EXECUTORS: dict[str, ApprovalExecutor] = {}


def approval_executor_register(
    kind: str,
    *,
    execute: Callable[[ApprovalRequest], dict[str, Any]],
    request_permission: str,
    on_refuse: Callable[[ApprovalRequest], None] | None = None,
) -> None:
    """Plug in the operation an approved request of ``kind`` runs."""
    _EXECUTORS[kind] = ApprovalExecutor(kind, execute, request_permission, on_refuse)


def approval_executor(kind: str) -> ApprovalExecutor:
    executor = _EXECUTORS.get(kind)
    if executor is None:
        raise ServiceError(
            f"No operation {kind!r} can be approved.", code="unknown_operation", status_code=400
        )
    return executor


def _event(event_type: str, approval: ApprovalRequest, actor: User | None) -> None:
    from audit.services import security_event_record

    security_event_record(
        event_type=event_type,
        actor=actor,
        organization=approval.organization_id,
        detail={
            "approval": str(approval.public_id),
            "kind": approval.kind,
            "summary": approval.summary,
            "requested_by": approval.requested_by_id,
        },
    )


@transaction.atomic
def approval_request_create(
    *,
    organization: Organization,
    kind: str,
    payload: dict[str, Any],
    requested_by: User,
    summary: str = "",
    reason: str = "",
) -> ApprovalRequest:
    """Ask for a critical operation; nothing happens until someone else approves."""
    executor = approval_executor(kind)
    authorization.permission_require(requested_by, executor.request_permission, organization)
    approval = ApprovalRequest.objects.create(
        organization=organization,
        kind=kind,
        payload=payload,
        summary=summary[:255],
        reason=reason,
        requested_by=requested_by,
    )
    _event("approval.requested", approval, requested_by)
    logger.info("approval.requested", extra={"approval_id": approval.pk, "kind": kind})
    return approval


def _lock_pending(approval: ApprovalRequest) -> ApprovalRequest:
    locked = ApprovalRequest.objects.select_for_update().get(pk=approval.pk)
    if locked.status != ApprovalRequest.Status.PENDING:
        raise ServiceError(
            f"This request is already {locked.get_status_display().lower()}.",
            code="approval_not_pending",
            status_code=409,
        )
    return locked


def _decider_check(approval: ApprovalRequest, decided_by: User) -> None:
    if decided_by.pk == approval.requested_by_id:
        authorization.permission_denied_record(
            decided_by, "approvals.decide", approval.organization_id, approval
        )
        raise ServiceError(
            "You cannot decide a request you made: another person must.",
            code="self_approval",
            status_code=403,
        )
    if not authorization.user_has_perm(
        decided_by, "approvals.decide", approval.organization_id, approval
    ):
        raise ServiceError(
            "Deciding this request needs the permission 'approvals.decide'.",
            code="approver_lacks_permission",
            status_code=403,
        )


@transaction.atomic
def approval_approve(
    *, approval: ApprovalRequest, decided_by: User, note: str = "", execute: bool = True
) -> ApprovalRequest:
    """Approve a request made by someone else, then run it."""
    locked = _lock_pending(approval)
    _decider_check(locked, decided_by)
    locked.status = ApprovalRequest.Status.APPROVED
    locked.decided_by = decided_by
    locked.decided_at = timezone.now()
    locked.decision_note = note
    locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    _event("approval.granted", locked, decided_by)
    if execute:
        locked = approval_execute(approval=locked)
    return locked


@transaction.atomic
def approval_refuse(
    *, approval: ApprovalRequest, decided_by: User, note: str = ""
) -> ApprovalRequest:
    locked = _lock_pending(approval)
    _decider_check(locked, decided_by)
    locked.status = ApprovalRequest.Status.REFUSED
    locked.decided_by = decided_by
    locked.decided_at = timezone.now()
    locked.decision_note = note
    locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    _event("approval.refused", locked, decided_by)
    executor = _EXECUTORS.get(locked.kind)
    if executor is not None and executor.on_refuse is not None:
        executor.on_refuse(locked)
    return locked


@transaction.atomic
def approval_cancel(*, approval: ApprovalRequest, reason: str) -> ApprovalRequest:
    """Withdraw a pending request (its requester left, its subject is gone)."""
    locked = ApprovalRequest.objects.select_for_update().get(pk=approval.pk)
    if locked.status != ApprovalRequest.Status.PENDING:
        return locked
    locked.status = ApprovalRequest.Status.CANCELLED
    locked.decision_note = reason
    locked.save(update_fields=["status", "decision_note"])
    executor = _EXECUTORS.get(locked.kind)
    if executor is not None and executor.on_refuse is not None:
        executor.on_refuse(locked)
    return locked


@transaction.atomic
def approval_execute(*, approval: ApprovalRequest) -> ApprovalRequest:
    """Run an approved request once. A refusal from the operation marks the
    request failed with its reason instead of undoing the approval."""
    locked = ApprovalRequest.objects.select_for_update().get(pk=approval.pk)
    if locked.status != ApprovalRequest.Status.APPROVED:
        raise ServiceError(
            "Only an approved request that has not run can be executed.",
            code="approval_not_approved",
            status_code=409,
        )
    executor = approval_executor(locked.kind)
    now: datetime = timezone.now()
    try:
        with transaction.atomic():
            result = executor.execute(locked)
    except ServiceError as exc:
        locked.status = ApprovalRequest.Status.FAILED
        locked.error = f"{exc.get_codes()}: {exc.detail}"
        locked.executed_at = now
        locked.save(update_fields=["status", "error", "executed_at"])
        logger.warning("approval.execution_refused", extra={"approval_id": locked.pk})
        return locked
    locked.status = ApprovalRequest.Status.EXECUTED
    locked.executed_at = now
    locked.result = result
    locked.save(update_fields=["status", "executed_at", "result"])
    logger.info("approval.executed", extra={"approval_id": locked.pk, "kind": locked.kind})
    return locked
