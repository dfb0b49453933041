"""django-axes glue: which account an attempt names, and recorded unlocks.

allauth authenticates with ``email=...``, the admin and the token endpoint
with ``username=...`` or ``email=...``; axes reads only
``AXES_USERNAME_FORM_FIELD`` (``username``) unless told otherwise, so without
this callable every allauth failure would count against no account at all.
"""

from __future__ import annotations

import logging
from typing import Any

from axes.models import AccessAttempt
from django.db import transaction
from django.http import HttpRequest

from accounts.models import normalise_email
from audit.models import SecurityEvent
from audit.services import security_event_record

logger = logging.getLogger(__name__)

# Credential keys, then form fields, in the order the sign-in paths use them.
_CREDENTIAL_KEYS = ("email", "username", "login")


def axes_username(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str:
    """Return the folded e-mail an attempt names ('' when it names none)."""
    for key in _CREDENTIAL_KEYS:
        value = (credentials or {}).get(key)
        if value:
            return normalise_email(str(value))
    data = getattr(request, "data", None) or getattr(request, "POST", None) or {}
    for key in _CREDENTIAL_KEYS:
        value = data.get(key) if hasattr(data, "get") else None
        if value:
            return normalise_email(str(value))
    return ""


@transaction.atomic
def lockout_clear(*, email: str | None = None, ip: str | None = None, actor: Any = None) -> int:
    """Lift a lockout by account and/or address, and record who lifted it."""
    attempts = AccessAttempt.objects.all()
    if email:
        attempts = attempts.filter(username=normalise_email(email))
    if ip:
        attempts = attempts.filter(ip_address=ip)
    if not email and not ip:
        raise ValueError("Name the account or the address to unlock.")
    count, _ = attempts.delete()
    security_event_record(
        event_type=SecurityEvent.Type.UNLOCKED,
        actor=actor,
        detail={"email_given": bool(email), "ip": ip or "", "attempt_rows": count},
    )
    logger.info("lockout.cleared", extra={"rows": count})
    return count
