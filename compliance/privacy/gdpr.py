"""GDPR: everything held about a person, exported as a stream; erasure that
pseudonymises the audit trail without breaking its chain.

The chain hashes only columns that never hold personal values (see
``audit.chain.HASHED_FIELDS``), so erasure may rewrite addresses, agents,
representations and change payloads in place and every row still verifies.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Membership, User, UserSession
from audit.services import audit_pseudonymise_subject
from cloudexpress.api.exceptions import ServiceError
from compliance.models import (
    Classification,
    ConsentRecord,
    DataSubjectRequest,
    DeletionCertificate,
    PrivacyNoticeAcknowledgement,
)
from compliance.privacy.holds import ActiveHolds, legal_holds_for_user

logger = logging.getLogger(__name__)

ERASED_DOMAIN = "erased.invalid"
REDACTED = "[erased]"
RESPONSE_DAYS = 30  # GDPR art. 12(3): one month
EXPORT_CHUNK = 2000
EXPORT_FORMAT = "cloudexpress-subject-export/1"

# Apps whose rows erasure handles itself; every other model with a foreign
# key to the user has its text scrubbed generically.
_HANDLED_MODELS = {
    "accounts.user",
    "accounts.usersession",
    "audit.auditlogentry",
    "audit.securityevent",
}


def users_past_retention(cutoff: datetime) -> models.QuerySet[User]:
    """Terminated users whose data the user-data policy says must go."""
    return User.objects.filter(terminated_at__lt=cutoff).exclude(
        email__endswith="@" + ERASED_DOMAIN
    )


def users_under_hold(users: models.QuerySet[User], holds: ActiveHolds) -> models.QuerySet[User]:
    return users.filter(
        Q(pk__in=holds.user_ids) | Q(memberships__organization_id__in=holds.organization_ids)
    ).distinct()


def is_erased(user: User) -> bool:
    return user.email.endswith("@" + ERASED_DOMAIN)


# --- Export ---------------------------------------------------------------


def _line(section: str, record: Any) -> bytes:
    return (
        json.dumps({"section": section, "record": record}, cls=DjangoJSONEncoder).encode() + b"\n"
    )


_SECRET_PARTS = ("hash", "secret", "token", "password", "seed", "digest")


def _metadata_fields(model: type[models.Model]) -> list[str]:
    return [
        field.attname
        for field in model._meta.concrete_fields
        if not any(part in field.name.lower() for part in _SECRET_PARTS)
    ]


def subject_export_lines(
    user: User, *, request: DataSubjectRequest | None = None
) -> Iterator[bytes]:
    """Yield everything held about ``user`` as NDJSON lines, section by
    section, reading each table through a server-side cursor."""
    from audit.models import AuditLogEntry, SecurityEvent

    counts: dict[str, int] = {}
    buffer: list[bytes] = []
    record: Any

    def emit(section: str, record: Any) -> Iterator[bytes]:
        counts[section] = counts.get(section, 0) + 1
        buffer.append(_line(section, record))
        if len(buffer) >= 500:
            yield b"".join(buffer)
            buffer.clear()

    yield _line(
        "manifest",
        {
            "format": EXPORT_FORMAT,
            "classification": Classification.RESTRICTED.label,
            "subject": str(user.public_id),
            "generated_at": timezone.now(),
            "sections": [
                "profile",
                "memberships",
                "sessions",
                "api_keys",
                "mfa_devices",
                "backup_codes",
                "approvals",
                "consents",
                "privacy_notices",
                "requests",
                "security_events",
                "audit_entries",
            ],
        },
    )
    yield from emit(
        "profile",
        {
            "id": str(user.public_id),
            "email": user.email,
            "full_name": user.full_name,
            "is_active": user.is_active,
            "date_joined": user.date_joined,
            "last_login": user.last_login,
            "password_changed_at": user.password_changed_at,
            "terminated_at": user.terminated_at,
        },
    )
    memberships = Membership.objects.filter(user=user).values(
        "public_id", "organization__name", "role__name", "status", "expires_at", "created_at"
    )
    for record in memberships.iterator(chunk_size=EXPORT_CHUNK):
        yield from emit("memberships", record)
    sessions = UserSession.objects.filter(user=user).values(
        "ip", "user_agent", "created_at", "last_seen_at", "expire_date"
    )
    for record in sessions.iterator(chunk_size=EXPORT_CHUNK):
        yield from emit("sessions", record)
    from accounts.models import ApiKey, ApprovalRequest, BackupCode, TOTPDevice

    # Metadata only: never a seed, a hash or a secret.
    keys = ApiKey.objects.filter(user=user).values(
        "public_id",
        "name",
        "kind",
        "organization__name",
        "prefix",
        "scopes",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "last_used_ip",
    )
    for record in keys.iterator(chunk_size=EXPORT_CHUNK):
        yield from emit("api_keys", record)
    devices = TOTPDevice.objects.filter(user=user).values(
        "name", "confirmed", "created_at", "confirmed_at"
    )
    for record in devices.iterator(chunk_size=EXPORT_CHUNK):
        yield from emit("mfa_devices", record)
    yield from emit("backup_codes", {"remaining": BackupCode.objects.filter(user=user).count()})
    approvals = (
        ApprovalRequest.objects.filter(Q(requested_by=user) | Q(decided_by=user))
        .order_by("requested_at", "pk")
        .values(
            "public_id",
            "kind",
            "status",
            "summary",
            "requested_by_id",
            "requested_at",
            "decided_at",
        )
    )
    for record in approvals.iterator(chunk_size=EXPORT_CHUNK):
        role = "requested" if record.pop("requested_by_id") == user.pk else "decided"
        yield from emit("approvals", {**record, "role": role})
    consents = ConsentRecord.objects.filter(user=user).values(
        "purpose__code", "version__version", "decision", "recorded_at"
    )
    for record in consents.iterator(chunk_size=EXPORT_CHUNK):
        yield from emit("consents", record)
    notices = PrivacyNoticeAcknowledgement.objects.filter(user=user).values(
        "notice__version", "acknowledged_at"
    )
    for record in notices.iterator(chunk_size=EXPORT_CHUNK):
        yield from emit("privacy_notices", record)
    requests = DataSubjectRequest.objects.filter(subject=user).values(
        "public_id", "kind", "status", "received_at", "completed_at"
    )
    for record in requests.iterator(chunk_size=EXPORT_CHUNK):
        yield from emit("requests", record)
    events = (
        SecurityEvent.objects.filter(Q(actor=user) | Q(target_user=user))
        .order_by("seq")
        .values(
            "public_id",
            "occurred_at",
            "event_type",
            "severity",
            "ip",
            "user_agent",
            "request_id",
            "detail",
        )
    )
    for record in events.iterator(chunk_size=EXPORT_CHUNK):
        yield from emit("security_events", record)
    user_type = ContentType.objects.get_for_model(User)
    entries = (
        AuditLogEntry.objects.filter(
            Q(actor=user) | Q(content_type=user_type, object_pk=str(user.pk))
        )
        .order_by("seq")
        .values(
            "seq",
            "timestamp",
            "content_type__model",
            "object_repr",
            "action",
            "changes",
            "remote_addr",
            "user_agent",
        )
    )
    for record in entries.iterator(chunk_size=EXPORT_CHUNK):
        yield from emit("audit_entries", record)
    if buffer:
        yield b"".join(buffer)
    yield _line("end", {"counts": counts})
    if request is not None:
        _request_complete(request, {"sections": counts})


def gdpr_export_start(*, subject: User, requested_by: User) -> DataSubjectRequest:
    """Record an access request and the security event for an export."""
    from audit.models import SecurityEvent
    from audit.services import security_event_record

    request = _request_open(DataSubjectRequest.Kind.ACCESS, subject, requested_by)
    security_event_record(
        event_type=SecurityEvent.Type.DATA_EXPORTED,
        actor=requested_by,
        target_user=subject,
        detail={"request": str(request.public_id)},
    )
    return request


# --- Requests -------------------------------------------------------------


def _request_open(kind: str, subject: User, requested_by: Any) -> DataSubjectRequest:
    now = timezone.now()
    return DataSubjectRequest.objects.create(
        kind=kind,
        subject=subject,
        subject_public_id=subject.public_id,
        requested_by=requested_by if getattr(requested_by, "pk", None) else None,
        received_at=now,
        due_at=now + timedelta(days=RESPONSE_DAYS),
    )


def privacy_request_file(*, subject: User, kind: str) -> DataSubjectRequest:
    """Record a request or complaint a person files about their own data; it
    is due within the response period and tracked until completed."""
    filed = _request_open(kind, subject, subject)
    logger.info("privacy.request_filed", extra={"request": str(filed.public_id), "kind": kind})
    return filed


def _request_complete(request: DataSubjectRequest, outcome: dict[str, Any]) -> None:
    request.status = DataSubjectRequest.Status.COMPLETED
    request.completed_at = timezone.now()
    request.outcome = outcome
    request.save(update_fields=["status", "completed_at", "outcome"])
    logger.info(
        "privacy.request_completed",
        extra={"request": str(request.public_id), "seconds": request.response_seconds},
    )


# --- Erasure --------------------------------------------------------------


def _scrubber(needles: set[str]) -> re.Pattern[str] | None:
    usable = sorted((n for n in needles if n and len(n) >= 3), key=len, reverse=True)
    if not usable:
        return None
    return re.compile("|".join(re.escape(n) for n in usable), re.IGNORECASE)


def _scrub(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(REDACTED, value)
    if isinstance(value, list):
        return [_scrub(item, pattern) for item in value]
    if isinstance(value, dict):
        return {_scrub(key, pattern): _scrub(item, pattern) for key, item in value.items()}
    return value


def _subject_identifiers(user: User) -> tuple[set[str], set[str]]:
    """Return (texts, addresses) that identify ``user`` anywhere: the current
    and every former e-mail and name from the audit trail, and every IP."""
    from audit.models import AuditLogEntry, SecurityEvent

    texts = {user.email, user.full_name}
    user_type = ContentType.objects.get_for_model(User)
    for changes in AuditLogEntry.objects.filter(
        content_type=user_type, object_pk=str(user.pk)
    ).values_list("changes", flat=True):
        if not isinstance(changes, dict):
            continue
        for field in ("email", "full_name"):
            values = changes.get(field)
            if isinstance(values, list):
                texts.update(str(v) for v in values if v and v != "None")
    addresses: set[str | None] = set()
    addresses.update(UserSession.objects.filter(user=user).values_list("ip", flat=True))
    addresses.update(
        SecurityEvent.objects.filter(Q(actor=user) | Q(target_user=user)).values_list(
            "ip", flat=True
        )
    )
    addresses.update(
        AuditLogEntry.objects.filter(actor=user).values_list("remote_addr", flat=True)
    )
    addresses.discard(None)
    texts.discard("")
    return texts, {str(a) for a in addresses if a}


def _optional_model(label: str) -> type[models.Model] | None:
    app_label = label.split(".")[0]
    if not any(config.label == app_label for config in apps.get_app_configs()):
        return None
    try:
        return apps.get_model(label)
    except LookupError:
        return None


def _erase_third_party(user: User, texts: set[str], addresses: set[str]) -> dict[str, int]:
    """Rows of optional apps (axes, allauth) that hold the person, if installed."""
    counts: dict[str, int] = {}
    for label in ("axes.AccessAttempt", "axes.AccessLog", "axes.AccessFailureLog"):
        model = _optional_model(label)
        if model is None:
            continue
        query = Q(ip_address__in=addresses)
        for text in texts:
            query |= Q(username__iexact=text)
        counts[label] = model._default_manager.filter(query).delete()[0]
    for label in ("socialaccount.SocialAccount", "account.EmailAddress"):
        model = _optional_model(label)
        if model is not None:
            counts[label] = model._default_manager.filter(user=user).delete()[0]
    return counts


def _erase_credentials(user: User) -> dict[str, int]:
    """Erasure's steps for what the person could act with: second factors
    deleted (their seeds are personal and useless once the person is gone),
    API keys revoked and stripped of the address they were last used from,
    and approvals the person asked for and nobody decided cancelled. Run
    before the trail is pseudonymised, so the events these write about the
    person are pseudonymised with the rest. Decided approvals stay: they
    prove who approved what, and point at the pseudonymous user row.
    """
    from accounts.auth.mfa import mfa_reset
    from accounts.models import ApiKey, ApprovalRequest, BackupCode, TOTPDevice
    from accounts.services.approvals import approval_cancel

    devices = TOTPDevice.objects.filter(user=user).count()
    codes = BackupCode.objects.filter(user=user).count()
    mfa_reset(user=user)
    keys = ApiKey.objects.filter(user=user)
    revoked = keys.filter(revoked_at=None).update(revoked_at=timezone.now())
    keys.update(last_used_ip=None)
    cancelled = 0
    for approval in ApprovalRequest.objects.filter(
        requested_by=user, status=ApprovalRequest.Status.PENDING
    ):
        approval_cancel(approval=approval, reason="requester's data erased")
        cancelled += 1
    return {
        "mfa_devices_deleted": devices,
        "backup_codes_deleted": codes,
        "api_keys_revoked": revoked,
        "approvals_cancelled": cancelled,
    }


def _scrub_related(user: User, texts: set[str], addresses: set[str]) -> int:
    """Scrub the text of every other row that points at the user (the
    credential tables have their own steps above; this catches the rest,
    including tables added later)."""
    pattern = _scrubber(texts | addresses)
    if pattern is None:
        return 0
    changed_rows = 0
    for model in apps.get_models():
        if model._meta.label_lower in _HANDLED_MODELS or not model._meta.managed:
            continue
        links = [
            f
            for f in model._meta.concrete_fields
            if isinstance(f, models.ForeignKey) and f.related_model is User
        ]
        texts_fields = [
            f
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
            and not f.choices
        ]
        if not links or not texts_fields:
            continue
        query = Q()
        for link in links:
            query |= Q(**{link.name: user})
        for row in model._default_manager.filter(query).iterator(chunk_size=EXPORT_CHUNK):
            changed = {}
            for field in texts_fields:
                value = getattr(row, field.attname)
                scrubbed = _scrub(value, pattern)
                if scrubbed != value:
                    changed[field.attname] = scrubbed
            if changed:
                model._default_manager.filter(pk=row.pk).update(**changed)
                changed_rows += 1
    return changed_rows


@transaction.atomic
def subject_erase(*, user: User, reason: str) -> dict[str, Any]:
    """Erase ``user``'s personal data; keep a pseudonymous tombstone row so
    that memberships, consents and the audit trail still point somewhere.

    Return the counts and the identifiers erased (for the certificate).
    """
    from audit.models import AuditLogEntry

    texts, addresses = _subject_identifiers(user)
    identifiers = [f"user:{user.pk}"]

    session_keys = list(
        UserSession.objects.filter(user=user).values_list("session_key", flat=True)
    )
    identifiers += [f"session:{key}" for key in session_keys]
    UserSession.objects.filter(user=user).delete()

    credentials = _erase_credentials(user)

    # The audit area's own erasure of the trail: personal columns replaced by
    # a pseudonym, salts cleared and their seqs recorded, so audit_verify
    # still passes.
    audit_counts = audit_pseudonymise_subject(user)
    third_party = _erase_third_party(user, texts, addresses)
    related = _scrub_related(user, texts, addresses)

    # A queryset update, not save(): auditlog would write the old e-mail and
    # name into a new change entry.
    User.objects.filter(pk=user.pk).update(
        email=f"erased-{user.public_id.hex}@{ERASED_DOMAIN}",
        full_name="",
        password=make_password(None),
        is_active=False,
        terminated_reason="",
        terminated_at=user.terminated_at or timezone.now(),
        credentials_version=F("credentials_version") + 1,
    )
    AuditLogEntry(
        content_type=ContentType.objects.get_for_model(User),
        object_pk=str(user.pk),
        object_id=user.pk,
        object_repr=f"erased user {user.public_id}",
        action=AuditLogEntry.Action.UPDATE,
        additional_data={"erasure": {"reason": reason, "subject": str(user.public_id)}},
    ).save()
    user.refresh_from_db()

    counts = {
        "sessions_deleted": len(session_keys),
        **credentials,
        **{k: int(v) for k, v in (audit_counts or {}).items()},
        **{f"{k}_deleted": v for k, v in third_party.items()},
        "related_rows_scrubbed": related,
    }
    logger.info("privacy.subject_erased", extra={"subject": str(user.public_id), "reason": reason})
    return {"counts": counts, "identifiers": identifiers}


def _erasure_refusals(request: DataSubjectRequest, subject: User) -> None:
    """Refuse (and record the refusal on ``request``) an erasure that must not
    run: the person is already erased, or a legal hold applies."""
    if is_erased(subject):
        _request_refuse(request, {"code": "already_erased"})
        raise ServiceError(
            "This person's data is already erased.", code="already_erased", status_code=409
        )
    holds = legal_holds_for_user(subject)
    if holds:
        _request_refuse(
            request, {"code": "legal_hold", "holds": [str(h.public_id) for h in holds]}
        )
        raise ServiceError(
            "A legal hold applies to this person; erasure is refused until it is released.",
            code="legal_hold",
            status_code=409,
        )


def _request_refuse(request: DataSubjectRequest, outcome: dict[str, Any]) -> None:
    request.status = DataSubjectRequest.Status.REFUSED
    request.outcome = outcome
    request.save(update_fields=["status", "outcome"])


def _operator_organization() -> Any:
    from accounts.models import Organization

    operator = Organization.objects.filter(is_operator=True).first()
    if operator is None:
        raise ServiceError(
            "Erasure needs the operator organization, whose members approve it.",
            code="no_operator_organization",
            status_code=409,
        )
    return operator


def gdpr_erasure_request(*, subject: User, requested_by: User) -> DataSubjectRequest:
    """Ask for an erasure: refuse at once under a legal hold (or if done), else
    open a four-eyes approval in the operator organization. Another person
    holding ``approvals.decide`` approves it, and approval runs
    ``gdpr_erasure_execute``; nothing is erased before that.

    Erasure is irreversible and one person alone must not be able to make a
    customer's trail anonymous (separation of duties, CC5.1 / CC6.3).
    """
    from accounts.models import ApprovalRequest
    from accounts.services.approvals import approval_request_create

    with transaction.atomic():
        request = _request_open(DataSubjectRequest.Kind.ERASURE, subject, requested_by)
    # The refusal is recorded on the request, outside the atomic block that
    # its exception would roll back; the person as stored now decides.
    _erasure_refusals(request, User.objects.get(pk=subject.pk))
    with transaction.atomic():
        approval = approval_request_create(
            organization=_operator_organization(),
            kind=ApprovalRequest.Kind.DATA_ERASURE,
            payload={"request": str(request.public_id), "subject": str(subject.public_id)},
            requested_by=requested_by,
            summary=f"Erase the personal data of user {subject.public_id}",
        )
        request.status = DataSubjectRequest.Status.AWAITING_APPROVAL
        request.outcome = {"code": "awaiting_approval", "approval": str(approval.public_id)}
        request.save(update_fields=["status", "outcome"])
    return request


def gdpr_erasure_execute(*, request: DataSubjectRequest, approved_by: Any) -> DataSubjectRequest:
    """Run an approved erasure: refuse if a hold was placed meanwhile, else
    erase, certify and record the response time."""
    from audit.models import SecurityEvent
    from audit.services import security_event_record
    from compliance.privacy.certificates import certificate_for_erasure

    subject = User.objects.get(public_id=request.subject_public_id)
    _erasure_refusals(request, subject)
    with transaction.atomic():
        result = subject_erase(user=subject, reason="request")
        _request_complete(
            request,
            {
                "code": "erased",
                "counts": result["counts"],
                "approval": request.outcome.get("approval"),
                "approved_by": getattr(approved_by, "pk", None),
            },
        )
        certificate_for_erasure(
            request=request, identifiers=result["identifiers"], counts=result["counts"]
        )
    security_event_record(
        event_type=SecurityEvent.Type.DATA_ERASED,
        actor=request.requested_by_id,
        target_user=subject,
        detail={
            "request": str(request.public_id),
            "approved_by": getattr(approved_by, "pk", None),
        },
    )
    return request


def _erasure_approved(approval: Any) -> dict[str, Any]:
    """The approvals service's executor for ``privacy.erasure``."""
    request = DataSubjectRequest.objects.get(public_id=approval.payload["request"])
    try:
        gdpr_erasure_execute(request=request, approved_by=approval.decided_by)
    except ServiceError as exc:
        # A hold placed while the approval waited: the refusal is recorded
        # on the request, which an exception here would roll back.
        return {"request": str(request.public_id), "refused": exc.get_codes()}
    certificate = DeletionCertificate.objects.get(request=request)
    return {
        "request": str(request.public_id),
        "certificate": str(certificate.public_id),
        "counts": request.outcome.get("counts", {}),
    }


def _erasure_refused(approval: Any) -> None:
    DataSubjectRequest.objects.filter(
        public_id=approval.payload["request"],
        status=DataSubjectRequest.Status.AWAITING_APPROVAL,
    ).update(
        status=DataSubjectRequest.Status.REFUSED,
        outcome={"code": "approval_refused", "approval": str(approval.public_id)},
    )


def erasure_approval_register() -> None:
    """Plug erasure into the four-eyes approvals (called at start)."""
    from accounts.models import ApprovalRequest
    from accounts.services.approvals import approval_executor_register

    approval_executor_register(
        ApprovalRequest.Kind.DATA_ERASURE,
        execute=_erasure_approved,
        request_permission="privacy.manage",
        on_refuse=_erasure_refused,
    )
