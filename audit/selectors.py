"""Reads of the audit app: who may see the trail, and the filtered lists that
the pages, the CSV exports and the API share."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from django.db.models import Q, QuerySet

from audit.models import AuditLogEntry, SecurityEvent

AUDIT_LOG_VIEW = "audit_log.view"
SECURITY_EVENTS_VIEW = "security_events.view"


def audit_access_allowed(user: Any, permission: str) -> bool:
    """Whether ``user`` may read the audit trail under ``permission``.

    Decided by ``accounts.authorization.user_has_perm`` in the operator
    organization: a current member there whose role (or a role it inherits
    from) holds the permission. Tenant roles do not count, as the trail
    spans every tenant, and the staff or superuser flag grants nothing.
    """
    # TODO(authorization): tenant-scoped views of the trail, for an
    # organization's own admins, need a filter by organization first.
    from accounts.authorization import user_has_perm

    # With no organization named, the service asks in the user's operator
    # membership and refuses anyone without one. The page and the API
    # answer 403 themselves, as before.
    return user_has_perm(user, permission, record_denial=False)


def _user_filter(value: str) -> Q:
    try:
        return Q(public_id=uuid.UUID(value))
    except ValueError:
        return Q(email__iexact=value.strip())


def _users(value: str) -> QuerySet[Any]:
    from accounts.models import User

    return User.objects.filter(_user_filter(value)).values("pk")


def audit_entries_filtered(filters: dict[str, Any]) -> QuerySet[AuditLogEntry]:
    """Audit entries matching cleaned ``AuditLogFilterForm`` data, newest first."""
    entries = AuditLogEntry.objects.select_related("actor", "content_type").order_by("-seq")
    if filters.get("actor"):
        entries = entries.filter(actor_pk__in=_users(filters["actor"]))
    if filters.get("action") is not None:
        entries = entries.filter(action=filters["action"])
    if filters.get("object_type"):
        app_label, _, model = filters["object_type"].lower().partition(".")
        entries = entries.filter(content_type__app_label=app_label, content_type__model=model)
    if filters.get("object_pk"):
        entries = entries.filter(object_pk=filters["object_pk"])
    if filters.get("date_from"):
        entries = entries.filter(timestamp__gte=filters["date_from"])
    if filters.get("date_to"):
        entries = entries.filter(timestamp__lt=filters["date_to"])
    return entries


def security_events_filtered(filters: dict[str, Any]) -> QuerySet[SecurityEvent]:
    """Security events matching cleaned ``SecurityEventFilterForm`` data, newest first."""
    events = SecurityEvent.objects.select_related("actor", "target_user", "organization").order_by(
        "-seq"
    )
    if filters.get("actor"):
        events = events.filter(actor_pk__in=_users(filters["actor"]))
    if filters.get("target"):
        events = events.filter(target_user_pk__in=_users(filters["target"]))
    if filters.get("event_type"):
        events = events.filter(event_type=filters["event_type"])
    if filters.get("severity"):
        events = events.filter(severity=filters["severity"])
    if filters.get("date_from"):
        events = events.filter(occurred_at__gte=filters["date_from"])
    if filters.get("date_to"):
        events = events.filter(occurred_at__lt=filters["date_to"])
    return events


# --- CSV ---------------------------------------------------------------------

# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

AUDIT_LOG_CSV_HEADER = (
    "seq",
    "timestamp",
    "actor",
    "system_actor",
    "action",
    "object_type",
    "object_pk",
    "object",
    "changes",
    "ip",
    "user_agent",
    "request_id",
)
SECURITY_EVENTS_CSV_HEADER = (
    "seq",
    "occurred_at",
    "event_type",
    "severity",
    "actor",
    "system_actor",
    "target",
    "organization",
    "ip",
    "user_agent",
    "request_id",
    "detail",
)


def csv_safe(value: Any) -> str:
    """Render ``value`` as a CSV cell no spreadsheet will evaluate."""
    import json

    if value is None:
        return ""
    text = (
        value
        if isinstance(value, str)
        else (json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value))
    )
    if text.startswith(_FORMULA_PREFIXES):
        return "'" + text
    return text


_ACTIONS = dict(AuditLogEntry.Action.choices)


def audit_entries_csv_rows(entries: QuerySet[AuditLogEntry]) -> Iterator[list[str]]:
    """Stream rows for the CSV export: plain tuples, in chunks."""
    rows = entries.values_list(
        "seq",
        "timestamp",
        "actor__email",
        "system_actor",
        "action",
        "content_type__app_label",
        "content_type__model",
        "object_pk",
        "object_repr",
        "changes",
        "remote_addr",
        "user_agent",
        "cid",
    ).iterator(chunk_size=2000)
    yield list(AUDIT_LOG_CSV_HEADER)
    for seq, ts, actor, system, action, app, model, pk, repr_, changes, ip, agent, cid in rows:
        values = [
            seq,
            ts.isoformat(),
            actor,
            system,
            _ACTIONS.get(action, action),
            f"{app}.{model}",
            pk,
            repr_,
            changes,
            ip,
            agent,
            cid,
        ]
        yield [csv_safe(v) for v in values]


def security_events_csv_rows(events: QuerySet[SecurityEvent]) -> Iterator[list[str]]:
    rows = events.values_list(
        "seq",
        "occurred_at",
        "event_type",
        "severity",
        "actor__email",
        "system_actor",
        "target_user__email",
        "organization__slug",
        "ip",
        "user_agent",
        "request_id",
        "detail",
    ).iterator(chunk_size=2000)
    yield list(SECURITY_EVENTS_CSV_HEADER)
    for row in rows:
        values = list(row)
        values[1] = values[1].isoformat()
        yield [csv_safe(v) for v in values]
