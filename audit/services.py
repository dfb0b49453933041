"""Writes of the audit app: security events, bulk-change entries, anchors,
retention of chained rows and erasure of the personal data in them.

``security_event_record`` is the one way anything records a security event.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import Q
from django.utils.encoding import smart_str

from audit import chain, metrics
from audit.models import Anchor, AuditLogEntry, SecurityEvent
from cloudexpress import requestcontext

logger = logging.getLogger(__name__)

ERASED = "[erased]"
ERASED_SEQS = "erased_seqs"  # key of a data.erased event's detail: {chain: [seq, ...]}

# Severity of each type when the caller does not say.
DEFAULT_SEVERITY: dict[str, str] = {
    SecurityEvent.Type.SIGN_IN_FAILED: SecurityEvent.Severity.LOW,
    SecurityEvent.Type.LOCKED_OUT: SecurityEvent.Severity.HIGH,
    SecurityEvent.Type.MFA_FAILED: SecurityEvent.Severity.MEDIUM,
    SecurityEvent.Type.MFA_REMOVED: SecurityEvent.Severity.MEDIUM,
    SecurityEvent.Type.PERMISSION_DENIED: SecurityEvent.Severity.MEDIUM,
    SecurityEvent.Type.IP_DENIED: SecurityEvent.Severity.MEDIUM,
    SecurityEvent.Type.THROTTLED: SecurityEvent.Severity.LOW,
    SecurityEvent.Type.TOKEN_REUSED: SecurityEvent.Severity.HIGH,
    SecurityEvent.Type.USER_TERMINATED: SecurityEvent.Severity.MEDIUM,
    SecurityEvent.Type.DATA_ERASED: SecurityEvent.Severity.MEDIUM,
    SecurityEvent.Type.DATA_EXPORTED: SecurityEvent.Severity.LOW,
    SecurityEvent.Type.SSH_FAILED: SecurityEvent.Severity.LOW,
    SecurityEvent.Type.SSH_INVALID_USER: SecurityEvent.Severity.LOW,
}

CHAINED_MODELS: tuple[type[models.Model], ...] = (AuditLogEntry, SecurityEvent)


def security_event_record(
    *,
    event_type: str,
    severity: str | None = None,
    actor: Any = None,
    target_user: Any = None,
    organization: Any = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    occurred_at: datetime | None = None,
) -> SecurityEvent:
    """Record one security event, stamped with the current request context."""
    context = requestcontext.current()
    event = SecurityEvent(
        event_type=event_type,
        severity=severity or DEFAULT_SEVERITY.get(event_type, SecurityEvent.Severity.INFO),
        actor_id=getattr(actor, "pk", actor)
        if actor is not None
        else (context.actor_id if context else None),
        target_user_id=getattr(target_user, "pk", target_user),
        organization_id=getattr(organization, "pk", organization),
        ip=ip if ip is not None else (context.ip if context else None),
        user_agent=user_agent
        if user_agent is not None
        else (context.user_agent if context else ""),
        request_id=context.request_id if context else "",
        system_actor=context.system_actor if context else "",
        detail=detail or {},
    )
    if occurred_at is not None:
        event.occurred_at = occurred_at
    event.save()
    # Counted once the event is committed, so a rolled-back request does not
    # inflate the figures an alert rule reads.
    transaction.on_commit(lambda: metrics.security_event_counted(event.event_type, event.severity))
    logger.info("security_event.recorded", extra={"event_type": event_type, "event_id": event.pk})
    if event_type in READ_EVENT_TYPES and context is not None:
        _read_recorded_in.set(context.request_id)
    return event


# A person reading evidence or taking data out: a view that records one of
# these has said what was read, so AuditorReadsMiddleware adds nothing.
READ_EVENT_TYPES = frozenset(
    {
        SecurityEvent.Type.EVIDENCE_VIEWED,
        SecurityEvent.Type.EVIDENCE_DOWNLOADED,
        SecurityEvent.Type.DATA_EXPORTED,
    }
)
# The id of the last request in this context that recorded a read.
_read_recorded_in: ContextVar[str | None] = ContextVar("cx_read_recorded_in", default=None)


def read_recorded_in_request() -> bool:
    """Whether the current request already recorded a read (READ_EVENT_TYPES)."""
    request_id = requestcontext.current_request_id()
    return request_id is not None and _read_recorded_in.get() == request_id


def permission_denied_record(*, user: Any, permission: str, path: str) -> SecurityEvent:
    """Record that ``user`` was refused ``permission`` at ``path``."""
    return security_event_record(
        event_type=SecurityEvent.Type.PERMISSION_DENIED,
        actor=user if getattr(user, "is_authenticated", False) else None,
        detail={"permission": permission, "path": path},
    )


# --- Writes that bypass model signals ----------------------------------------


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return DjangoJSONEncoder().default(value) if not isinstance(value, models.Model) else value.pk


def audit_record_bulk(
    *,
    model: type[models.Model],
    action: int,
    pks: Iterable[Any],
    changes: dict[str, Any] | None = None,
    changes_by_pk: dict[Any, dict[str, Any]] | None = None,
    via: str,
) -> list[AuditLogEntry]:
    """Record what a write that bypassed model signals did: one entry per object.

    One entry per affected object rather than one summary with a list of
    keys: an object's history, the object filter of the audit pages and the
    erasure of a person all select entries by (content type, object key),
    and a summary row would be invisible to all three. The rows go in
    batches under one chain lock, so a thousand objects cost one statement
    per 500 entries, not a thousand locks.

    ``via`` names the path ("queryset.update", "bulk_create",
    "raw_sql:retention") and is kept in ``additional_data``.
    """
    content_type = ContentType.objects.get_for_model(model)
    name = model._meta.verbose_name
    entries = []
    for pk in pks:
        entry = AuditLogEntry(
            content_type=content_type,
            object_pk=smart_str(pk),
            object_id=pk if isinstance(pk, int) else None,
            object_repr=f"{name} {pk}",
            action=action,
            changes=(changes_by_pk or {}).get(pk, changes),
            additional_data={"via": via},
        )
        chain.fill_context(entry)
        entry.actor_pk = entry.actor_id
        entries.append(entry)
    chain.insert_chained_many(AuditLogEntry, entries)
    logger.info(
        "audit.bulk_recorded", extra={"model": model._meta.label, "rows": len(entries), "via": via}
    )
    return entries


def _excluded_fields(model: type[models.Model]) -> set[str]:
    from auditlog.registry import auditlog

    if not auditlog.contains(model):
        return set()
    fields = auditlog.get_model_fields(model)
    return set(fields["exclude_fields"]) | set(fields["mask_fields"])


@transaction.atomic
def queryset_update_audited(queryset: models.QuerySet[Any], *, via: str, **values: Any) -> int:
    """``queryset.update(**values)`` with one audit entry per changed row.

    The rows are locked first so the old values recorded are the ones the
    update replaced. Values must be plain values, not expressions: the entry
    records what each row became.
    """
    if any(hasattr(value, "resolve_expression") for value in values.values()):
        raise ValueError("queryset_update_audited takes plain values, not expressions")
    model = queryset.model
    excluded = _excluded_fields(model)
    names = list(values)
    old_rows = list(queryset.select_for_update().values_list("pk", *names))
    if not old_rows:
        return 0
    changes_by_pk: dict[Any, dict[str, Any]] = {}
    for pk, *old in old_rows:
        diff = {
            name: [None, None]
            if name in excluded
            else [_json_value(was), _json_value(values[name])]
            for name, was in zip(names, old, strict=True)
            if was != values[name]
        }
        if diff:
            changes_by_pk[pk] = diff
    updated = model._default_manager.filter(pk__in=[row[0] for row in old_rows]).update(**values)
    audit_record_bulk(
        model=model,
        action=AuditLogEntry.Action.UPDATE,
        pks=list(changes_by_pk),
        changes_by_pk=changes_by_pk,
        via=via,
    )
    return updated


@transaction.atomic
def bulk_create_audited(
    model: type[models.Model], objs: Sequence[models.Model], *, via: str = "bulk_create"
) -> list[models.Model]:
    """``bulk_create`` with one create entry per new row (needs returned keys)."""
    from auditlog.diff import model_instance_diff

    created = model._default_manager.bulk_create(objs)
    changes_by_pk = {
        obj.pk: model_instance_diff(None, obj, use_json_for_changes=True) or {} for obj in created
    }
    audit_record_bulk(
        model=model,
        action=AuditLogEntry.Action.CREATE,
        pks=[obj.pk for obj in created],
        changes_by_pk=changes_by_pk,
        via=via,
    )
    return list(created)


@transaction.atomic
def m2m_through_write(
    *,
    instance: models.Model,
    field_name: str,
    add: Iterable[models.Model] = (),
    remove: Iterable[models.Model] = (),
) -> None:
    """Write rows of a many-to-many through table directly, and audit them.

    For through tables written without the related manager (bulk loads, a
    through model with extra columns): the entry lands on ``instance`` in the
    same shape auditlog gives an m2m change, so its history reads the same.
    """
    field = instance._meta.get_field(field_name)
    assert isinstance(field, models.ManyToManyField)
    through = field.remote_field.through
    assert isinstance(through, type) and issubclass(through, models.Model)
    source = field.m2m_field_name()
    target = field.m2m_reverse_field_name()
    add, remove = list(add), list(remove)
    content_type = ContentType.objects.get_for_model(instance)
    entries = []

    if add:
        through._default_manager.bulk_create(
            [through(**{source: instance, target: obj}) for obj in add], ignore_conflicts=True
        )
    if remove:
        through._default_manager.filter(
            **{source: instance, f"{target}__in": [obj.pk for obj in remove]}
        ).delete()
    for operation, objs in (("add", add), ("delete", remove)):
        if not objs:
            continue
        entry = AuditLogEntry(
            content_type=content_type,
            object_pk=smart_str(instance.pk),
            object_id=instance.pk if isinstance(instance.pk, int) else None,
            object_repr=smart_str(instance),
            action=AuditLogEntry.Action.UPDATE,
            changes={
                field_name: {
                    "type": "m2m",
                    "operation": operation,
                    "objects": [smart_str(obj) for obj in objs],
                }
            },
            additional_data={"via": "through"},
        )
        chain.fill_context(entry)
        entry.actor_pk = entry.actor_id
        entries.append(entry)
    chain.insert_chained_many(AuditLogEntry, entries)


# --- Anchors and retention ---------------------------------------------------


def audit_anchor_create() -> list[Anchor]:
    """Write down the head of each chain, so that truncating it is detected.

    Safe to run twice: an unchanged head already has its anchor. The head is
    also logged (a position and a hash, nothing personal), which puts a copy
    outside the database an attacker with write access to it would alter.
    """
    anchors = []
    for model in CHAINED_MODELS:
        head = (
            model._default_manager.exclude(seq=None)
            .order_by("-seq")
            .values_list("seq", "row_hash")
            .first()
        )
        if head is None:
            continue
        anchor, created = Anchor.objects.get_or_create(
            chain=chain.label(model),
            kind=Anchor.Kind.HEAD,
            seq=head[0],
            defaults={"row_hash": head[1]},
        )
        if created:
            logger.info(
                "audit.anchor.created",
                extra={"chain": anchor.chain, "seq": anchor.seq, "row_hash": anchor.row_hash},
            )
            anchors.append(anchor)
    return anchors


@transaction.atomic
def audit_prune_before(*, model: type[models.Model], before: datetime) -> int:
    """Delete the oldest rows of ``model``'s chain, those written before ``before``.

    Rows go from the start of the chain up to the first row written at or
    after ``before``, never from the middle, and a retained-start anchor
    records the link the first kept row points to, so what remains verifies.
    Only retention calls this.
    """
    chain_label = chain.label(model)
    time_field = "timestamp" if model is AuditLogEntry else "occurred_at"
    manager = model._default_manager
    chain.lock_and_read_head(model)

    first_kept = (
        manager.filter(**{f"{time_field}__gte": before})
        .order_by("seq")
        .values_list("seq", "prev_hash")
        .first()
    )
    if first_kept is None:
        head = manager.order_by("-seq").values_list("seq", "row_hash").first()
        if head is None:
            return 0
        first_kept = (head[0] + 1, head[1])
    cut_seq, link = first_kept
    deleted, _ = manager.filter(seq__lt=cut_seq).delete()
    if not deleted:
        return 0
    Anchor.objects.get_or_create(
        chain=chain_label, kind=Anchor.Kind.START, seq=cut_seq, defaults={"row_hash": link}
    )
    security_event_record(
        event_type=SecurityEvent.Type.RETENTION_EXECUTED,
        detail={"chain": chain_label, "deleted": deleted, "first_kept_seq": cut_seq},
    )
    logger.info("audit.pruned", extra={"chain": chain_label, "deleted": deleted})
    return deleted


# --- Erasure -----------------------------------------------------------------


@transaction.atomic
def audit_pseudonymise_subject(user: Any) -> dict[str, int]:
    """Remove a person's personal data from the trail without breaking it.

    Every entry and event the person acted in or is the subject of has its
    personal columns replaced by one pseudonym for this erasure and its salt
    cleared; the hashed columns (keys, times, types, the digest) are not
    touched, so the chain verifies. Changed field names are kept, their
    values are not. Called by the privacy erasure service.

    The seq of every row whose salt is cleared is listed in the data.erased
    event this writes, so ``audit_verify`` can tell an erased row from one
    whose salt someone removed to hide an edit. Those events hold no
    personal value and are never pseudonymised themselves.
    """
    from accounts.models import User

    pseudonym = f"erased-{secrets.token_hex(6)}"
    user_type = ContentType.objects.get_for_model(User)
    entries = AuditLogEntry.objects.filter(
        Q(actor_pk=user.pk) | Q(content_type=user_type, object_pk=str(user.pk))
    )
    erased_entries, entry_seqs = [], []
    for pk, seq, changes in entries.values_list("pk", "seq", "changes").iterator(2000):
        entry_seqs.append(seq)
        erased_entries.append(
            AuditLogEntry(
                pk=pk,
                object_repr=pseudonym,
                changes={name: ERASED for name in changes} if isinstance(changes, dict) else None,
                changes_text="",
                serialized_data=None,
                additional_data=None,
                remote_addr=None,
                remote_port=None,
                actor_email=None,
                user_agent="",
                personal_salt=None,
            )
        )
    AuditLogEntry.objects.bulk_update(
        erased_entries,
        [*chain.PERSONAL_FIELDS["audit.auditlogentry"], "personal_salt"],
        batch_size=500,
    )

    # By the indexed foreign keys: erasure runs while the user row exists.
    events = SecurityEvent.objects.filter(Q(actor_id=user.pk) | Q(target_user_id=user.pk)).exclude(
        event_type=SecurityEvent.Type.DATA_ERASED
    )
    event_seqs = list(events.values_list("seq", flat=True))
    erased_events = SecurityEvent.objects.filter(seq__in=event_seqs).update(
        ip=None, user_agent="", detail={"erased": pseudonym}, personal_salt=None
    )
    # TODO(erasure): events about an address or an e-mail with no account
    # behind it (sign-in failures for unknown users) name no user key and are
    # not found here; match them by the e-mail in ``detail`` once sign-in
    # records it in a fixed key.

    counts = {"entries": len(erased_entries), "events": erased_events}
    security_event_record(
        event_type=SecurityEvent.Type.DATA_ERASED,
        target_user=user,
        detail={
            "audit_pseudonymised": counts,
            ERASED_SEQS: {"entries": entry_seqs, "events": event_seqs},
        },
        ip="",
        user_agent="",
    )
    logger.info("audit.subject_pseudonymised", extra={"user_id": user.pk, **counts})
    return counts
