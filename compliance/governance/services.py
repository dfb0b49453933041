"""Writes of the governance registers: every change and side effect."""

from __future__ import annotations

import hashlib
import logging
import socket
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from django.core.files import File
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from audit.models import SecurityEvent
from audit.services import security_event_record
from cloudexpress.api.exceptions import Conflict, ServiceError
from compliance.governance import selectors
from compliance.models import (
    AuditFinding,
    ChangeRequest,
    Control,
    Deployment,
    JobRun,
    Policy,
    PolicyAcknowledgement,
    PolicyVersion,
    Reminder,
    Risk,
    TrainingAssignment,
    TrainingCompletion,
    TrainingModule,
    Vendor,
    VendorAssessment,
    VendorComplianceReport,
)

logger = logging.getLogger(__name__)

# Reminders go out this many days before a due date, and once more never:
# an overdue item already reminded for that due date is not mailed again.
REMINDER_LEAD_DAYS = 14
REMINDER_JOB = "governance_reminders"


# --- Policies ----------------------------------------------------------------


@transaction.atomic
def policy_version_draft(
    *, policy: Policy, author: User, body: str, summary_of_changes: str = ""
) -> PolicyVersion:
    """Add the next version of a policy; it takes effect once approved."""
    last = policy.versions.select_for_update().order_by("-number").first()
    version = PolicyVersion.objects.create(
        policy=policy,
        number=(last.number + 1) if last else 1,
        body=body,
        summary_of_changes=summary_of_changes,
        author=author,
    )
    logger.info("governance.policy_version_drafted", extra={"policy_version_id": version.pk})
    return version


def _refuse_self_approval(*, what: str, public_id: object, approver: User) -> None:
    """Refuse, and record the attempt: an auditor samples separation of
    duties from the security events, not from the logs."""
    security_event_record(
        event_type=SecurityEvent.Type.PERMISSION_DENIED,
        actor=approver,
        detail={"reason": "self_approval", "object": what, "id": str(public_id)},
    )
    raise ServiceError(
        f"The author of a {what.replace('_', ' ')} cannot approve it.",
        code="self_approval_forbidden",
        status_code=403,
    )


def policy_version_approve(*, version: PolicyVersion, approver: User) -> PolicyVersion:
    """Approve a version and make it the policy's current one.

    Approval is also a review of the policy, so it restarts the review
    period.
    """
    # Refused before the transaction opens, so that the refusal's security
    # event is committed rather than rolled back with the approval.
    if version.author_id == approver.pk:
        _refuse_self_approval(
            what="policy_version", public_id=version.public_id, approver=approver
        )
    return _policy_version_approve(version=version, approver=approver)


@transaction.atomic
def _policy_version_approve(*, version: PolicyVersion, approver: User) -> PolicyVersion:
    version = PolicyVersion.objects.select_for_update().get(pk=version.pk)
    if version.approved_at is not None:
        raise Conflict("This policy version is already approved.", code="already_approved")

    now = timezone.now()
    version.approver = approver
    version.approved_at = now
    version.save(update_fields=["approver", "approved_at"])

    policy = version.policy
    policy.current_version = version
    policy.last_reviewed_at = now
    policy.last_reviewed_by = approver
    policy.save(update_fields=["current_version", "last_reviewed_at", "last_reviewed_by"])
    security_event_record(
        event_type=SecurityEvent.Type.APPROVAL_GRANTED,
        actor=approver,
        detail={"object": "policy_version", "id": str(version.public_id)},
    )
    logger.info("governance.policy_version_approved", extra={"policy_version_id": version.pk})
    return version


def policy_review_record(*, policy: Policy, reviewer: User) -> Policy:
    """Record that the policy was reviewed and still stands unchanged."""
    policy.last_reviewed_at = timezone.now()
    policy.last_reviewed_by = reviewer
    policy.save(update_fields=["last_reviewed_at", "last_reviewed_by"])
    logger.info("governance.policy_reviewed", extra={"policy_id": policy.pk})
    return policy


def policy_acknowledge(*, policy: Policy, user: User) -> PolicyAcknowledgement:
    """Acknowledge the current version of a policy; again is a no-op."""
    if policy.current_version_id is None:
        raise Conflict(
            "This policy has no approved version to acknowledge.", code="no_current_version"
        )
    acknowledgement, created = PolicyAcknowledgement.objects.get_or_create(
        version_id=policy.current_version_id, user=user
    )
    if created:
        logger.info(
            "governance.policy_acknowledged",
            extra={"policy_version_id": policy.current_version_id, "user_id": user.pk},
        )
    return acknowledgement


# --- Training ----------------------------------------------------------------


def training_assignments_sync(*, now: datetime | None = None) -> int:
    """Assign modules on joining, by role and on recurrence; return how many
    assignments were created. Safe to run again: an assignment is unique per
    module, person and due date."""
    now = now or timezone.now()
    modules = list(TrainingModule.objects.filter(is_active=True).prefetch_related("roles"))
    memberships = selectors.active_members()
    last_done = selectors.training_last_completions()
    created = 0

    for membership in memberships:
        joined = membership.created_at
        for module in modules:
            role_ids = {role.pk for role in module.roles.all()}
            by_role = membership.role_id in role_ids
            if not (module.assign_on_joining or by_role):
                continue
            done = last_done.get((module.pk, membership.user_id))
            if done is None:
                reason = (
                    TrainingAssignment.Reason.JOINING
                    if module.assign_on_joining
                    else (TrainingAssignment.Reason.ROLE)
                )
                due = joined + timedelta(days=module.due_days)
            elif module.recurrence_days:
                reason = TrainingAssignment.Reason.RECURRENCE
                due = done + timedelta(days=module.recurrence_days)
            else:
                continue
            _, was_created = TrainingAssignment.objects.get_or_create(
                module=module,
                user_id=membership.user_id,
                due_at=due,
                defaults={"reason": reason, "assigned_at": now},
            )
            created += int(was_created)

    logger.info("governance.training_assignments_synced", extra={"assignments_created": created})
    return created


@transaction.atomic
def training_complete(
    *,
    module: TrainingModule,
    user: User,
    completed_at: datetime | None = None,
    score: int | None = None,
) -> TrainingCompletion:
    """Record a completion and close the person's open assignments of it."""
    completed_at = completed_at or timezone.now()
    if completed_at > timezone.now():
        raise ServiceError("A completion cannot lie in the future.", code="completed_in_future")
    completion = TrainingCompletion.objects.create(
        module=module, user=user, completed_at=completed_at, score=score
    )
    TrainingAssignment.objects.filter(module=module, user=user, completed_at=None).update(
        completed_at=completed_at
    )
    logger.info("governance.training_completed", extra={"completion_id": completion.pk})
    return completion


# --- Vendors -----------------------------------------------------------------


def vendor_assessment_record(
    *,
    vendor: Vendor,
    assessor: User,
    questionnaire: dict[str, object],
    risk_rating: str,
    notes: str = "",
) -> VendorAssessment:
    """Record a due-diligence assessment; its rating becomes the vendor's."""
    with transaction.atomic():
        assessment = VendorAssessment.objects.create(
            vendor=vendor,
            assessor=assessor,
            questionnaire=questionnaire,
            risk_rating=risk_rating,
            notes=notes,
        )
        vendor.risk_rating = risk_rating
        vendor.save(update_fields=["risk_rating"])
    logger.info("governance.vendor_assessed", extra={"assessment_id": assessment.pk})
    return assessment


def file_sha256(file: File) -> str:
    """Return the SHA-256 of an uploaded or stored file, leaving it rewound."""
    digest = hashlib.sha256()
    for chunk in file.chunks():
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


def vendor_report_attach(
    *,
    vendor: Vendor,
    kind: str,
    file: File,
    issued_on: date,
    expires_on: date,
    assessment: VendorAssessment | None = None,
) -> VendorComplianceReport:
    """Attach a vendor's compliance report, keeping its SHA-256 so the copy
    an auditor sees can be shown unchanged."""
    if expires_on <= issued_on:
        raise ServiceError("A report must expire after it was issued.", code="invalid_expiry")
    report = VendorComplianceReport.objects.create(
        vendor=vendor,
        assessment=assessment,
        kind=kind,
        file=file,
        sha256=file_sha256(file),
        issued_on=issued_on,
        expires_on=expires_on,
    )
    logger.info("governance.vendor_report_attached", extra={"report_id": report.pk})
    return report


# --- Risks -------------------------------------------------------------------


@transaction.atomic
def risk_create(
    *,
    owner: User,
    title: str,
    likelihood: int,
    impact: int,
    controls: Iterable[Control] = (),
    **fields: Any,
) -> Risk:
    """Register a risk, linked to the controls that treat it; registering is
    its first review."""
    risk = Risk(
        owner=owner,
        title=title,
        likelihood=likelihood,
        impact=impact,
        last_reviewed_at=timezone.now(),
        **fields,
    )
    risk.full_clean()
    risk.save()
    risk.controls.set(list(controls))
    logger.info("governance.risk_created", extra={"risk_id": risk.pk, "score": risk.score})
    return risk


def risk_review_record(*, risk: Risk, reviewer: User, **changes: Any) -> Risk:
    """Record a review of a risk, with whatever the review changed
    (likelihood, impact, treatment, plan, linked controls)."""
    allowed = {"likelihood", "impact", "treatment", "treatment_plan", "controls"}
    unknown = set(changes) - allowed
    if unknown:
        raise ServiceError(f"A review cannot change {sorted(unknown)}.", code="invalid")
    controls = changes.pop("controls", None)
    for name, value in changes.items():
        setattr(risk, name, value)
    risk.last_reviewed_at = timezone.now()
    risk.full_clean()
    with transaction.atomic():
        risk.save(update_fields=[*changes, "last_reviewed_at"])
        if controls is not None:
            risk.controls.set(list(controls))
    logger.info(
        "governance.risk_reviewed",
        extra={"risk_id": risk.pk, "reviewer_id": reviewer.pk, "score": risk.score},
    )
    return risk


# --- Change management -------------------------------------------------------


def change_request_approve(*, change: ChangeRequest, approver: User) -> ChangeRequest:
    """Approve a change. The author never approves their own change."""
    # As for policies: refuse before the transaction, keep the event.
    if change.author_id == approver.pk:
        _refuse_self_approval(what="change", public_id=change.public_id, approver=approver)
    return _change_request_approve(change=change, approver=approver)


@transaction.atomic
def _change_request_approve(*, change: ChangeRequest, approver: User) -> ChangeRequest:
    change = ChangeRequest.objects.select_for_update().get(pk=change.pk)
    if change.status != ChangeRequest.Status.SUBMITTED:
        raise Conflict(
            f"Only a submitted change can be approved; this one is {change.status}.",
            code="change_not_pending",
        )
    change.approver = approver
    change.approved_at = timezone.now()
    change.status = ChangeRequest.Status.APPROVED
    change.save(update_fields=["approver", "approved_at", "status"])
    security_event_record(
        event_type=SecurityEvent.Type.APPROVAL_GRANTED,
        actor=approver,
        detail={"object": "change", "id": str(change.public_id)},
    )
    logger.info("governance.change_approved", extra={"change_id": change.pk})
    return change


def deployment_record(
    *,
    change: ChangeRequest,
    recorded_by: User,
    environment: str = "production",
    commit: str = "",
    pipeline_run: str = "",
    deployed_at: datetime | None = None,
) -> tuple[Deployment, bool]:
    """Record a deployment against an approved change.

    Return the deployment and whether it is new: a pipeline that retries
    the same run gets the first record back.
    """
    now = timezone.now()
    deployed_at = deployed_at or now
    if deployed_at > now + timedelta(minutes=5):
        raise ServiceError("A deployment cannot lie in the future.", code="deployed_in_future")
    if change.status != ChangeRequest.Status.APPROVED or change.approved_at is None:
        raise Conflict("The change is not approved.", code="change_not_approved")
    if deployed_at < change.approved_at:
        raise Conflict(
            "The deployment happened before the change was approved.",
            code="deployed_before_approval",
        )

    if pipeline_run:
        existing = Deployment.objects.filter(
            environment=environment, pipeline_run=pipeline_run
        ).first()
        if existing is not None:
            return _same_deployment(existing, change)
    try:
        with transaction.atomic():
            deployment = Deployment.objects.create(
                change=change,
                environment=environment,
                commit=commit,
                pipeline_run=pipeline_run,
                deployed_at=deployed_at,
                recorded_by=recorded_by,
            )
    except IntegrityError:
        # Two retries of one pipeline run raced: the other one recorded it.
        existing = Deployment.objects.get(environment=environment, pipeline_run=pipeline_run)
        return _same_deployment(existing, change)
    logger.info("governance.deployment_recorded", extra={"deployment_id": deployment.pk})
    return deployment, True


def _same_deployment(existing: Deployment, change: ChangeRequest) -> tuple[Deployment, bool]:
    if existing.change_id != change.pk:
        raise Conflict(
            "This pipeline run is already recorded against another change.",
            code="pipeline_run_taken",
        )
    return existing, False


# --- Internal audits ---------------------------------------------------------


def finding_close(*, finding: AuditFinding, note: str) -> AuditFinding:
    if finding.closed_at is not None:
        raise Conflict("The finding is already closed.", code="already_closed")
    if not note.strip():
        raise ServiceError("Say how the finding was closed.", code="closure_note_required")
    finding.closed_at = timezone.now()
    finding.closure_note = note
    finding.save(update_fields=["closed_at", "closure_note"])
    logger.info("governance.finding_closed", extra={"finding_id": finding.pk})
    return finding


# --- Reminders ---------------------------------------------------------------


def governance_reminders_send(*, now: datetime | None = None) -> dict[str, int]:
    """Mail a reminder for every due date inside the lead window, once.

    The window has no lower bound, so a day the job missed is caught up on
    the next run; the unique sent-log row makes a repeated run send nothing.
    """
    now = now or timezone.now()
    horizon = now.date() + timedelta(days=REMINDER_LEAD_DAYS)
    counts = {"due": 0, "sent": 0, "skipped": 0}

    for item in selectors.reminders_due(until=horizon):
        counts["due"] += 1
        if item.recipient is None or not item.recipient.email:
            counts["skipped"] += 1
            continue
        try:
            # The log row and the mail stand or fall together: if the mail
            # server refuses, the row rolls back and the next run retries.
            with transaction.atomic():
                Reminder.objects.create(
                    kind=item.kind,
                    object_id=item.object_id,
                    due_on=item.due_on,
                    recipient=item.recipient,
                    sent_at=now,
                )
                overdue = item.due_on < now.date()
                send_mail(
                    subject=f"[CloudExpress] {'Overdue' if overdue else 'Due soon'}: "
                    f"{item.subject}",
                    message=(
                        f"{item.subject}\n\n"
                        f"Due on {item.due_on:%Y-%m-%d}"
                        f"{' (overdue)' if overdue else ''}.\n\n"
                        f"{item.detail}\n"
                    ),
                    from_email=None,
                    recipient_list=[item.recipient.email],
                )
        except IntegrityError:
            # Already sent by an earlier or a concurrent run.
            continue
        counts["sent"] += 1

    logger.info("governance.reminders_sent", extra=counts)
    return counts


def governance_reminders_run() -> JobRun:
    """The beat job: assign due training, send reminders, and stamp the run
    so the operations page and the engine's job-window checks see it."""
    run = JobRun.objects.create(
        job=REMINDER_JOB, status=JobRun.Status.RUNNING, worker=socket.gethostname()
    )
    try:
        assigned = training_assignments_sync()
        counts = governance_reminders_send()
    except Exception as exc:
        run.status = JobRun.Status.FAILED
        run.error = type(exc).__name__
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        logger.exception("governance.reminders_failed", extra={"job_run_id": run.pk})
        raise
    run.status = JobRun.Status.DONE
    run.counts = {**counts, "training_assigned": assigned}
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "counts", "finished_at"])
    return run
