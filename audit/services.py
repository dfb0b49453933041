"""The one way anything records a security event."""

from __future__ import annotations

import logging
from typing import Any

from audit.models import SecurityEvent
from cloudexpress import requestcontext

logger = logging.getLogger(__name__)

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
    occurred_at: Any = None,
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
    logger.info("security_event.recorded", extra={"event_type": event_type, "event_id": event.pk})
    return event
