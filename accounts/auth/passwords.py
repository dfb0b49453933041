"""Password policy: validators for the two profiles, history and expiry.

The profile is chosen by ``PASSWORD_POLICY_PROFILE`` (see settings):

* ``compliance`` (default): the company's compliance document, with
  composition rules and a 90-day expiry. NIST SP 800-63B-4 and OWASP ASVS 5.0
  forbid both; the deviation is recorded by ``policy_describe``.
* ``nist``: at least 15 characters, no composition rules, no expiry, checked
  against a shipped list of common and breached passwords.

Both keep the last five password hashes and refuse a password that matches
any of them.
"""

from __future__ import annotations

import logging
import string
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

SPECIAL_CHARACTERS = set(string.punctuation + " ")


class CompositionValidator:
    """Require an upper-case letter, a lower-case letter, a digit and a special
    character (compliance profile only)."""

    def validate(self, password: str, user: Any = None) -> None:
        missing = []
        if not any(c.isupper() for c in password):
            missing.append("an upper-case letter")
        if not any(c.islower() for c in password):
            missing.append("a lower-case letter")
        if not any(c.isdigit() for c in password):
            missing.append("a digit")
        if not any(c in SPECIAL_CHARACTERS for c in password):
            missing.append("a special character")
        if missing:
            raise ValidationError(
                "The password must contain %(missing)s.",
                code="password_composition",
                params={"missing": ", ".join(missing)},
            )

    def get_help_text(self) -> str:
        return (
            "Your password must contain upper- and lower-case letters, a digit and a "
            "special character."
        )


class PasswordHistoryValidator:
    """Refuse any of the user's last ``count`` passwords, and record each new one.

    Django calls ``password_changed`` after every save that set a password
    (admin, allauth, shell), so no path can skip the history or the
    revocation that follows a change.
    """

    def __init__(self, count: int = 5) -> None:
        self.count = count

    def validate(self, password: str, user: Any = None) -> None:
        if user is None or user.pk is None:
            return
        from accounts.models import PasswordHistory

        hashes = list(
            PasswordHistory.objects.filter(user_id=user.pk)
            .order_by("-created_at", "-id")
            .values_list("password_hash", flat=True)[: self.count]
        )
        if user.password and user.password not in hashes:
            hashes = [user.password, *hashes][: self.count]
        if any(check_password(password, encoded) for encoded in hashes):
            raise ValidationError(
                "The password must differ from your last %(count)d passwords.",
                code="password_reused",
                params={"count": self.count},
            )

    def password_changed(self, password: str, user: Any = None) -> None:
        if user is None or user.pk is None:
            return
        password_change_record(user=user)

    def get_help_text(self) -> str:
        return f"Your password must differ from your last {self.count} passwords."


@transaction.atomic
def password_change_record(*, user: Any) -> None:
    """Keep the new hash in the history and end the user's other credentials.

    The version bump refuses every JWT issued before; sessions are deleted so
    other devices are signed out at once (the current request keeps its
    session because Django re-creates it under a new key after the change).
    """
    from accounts.auth.revocation import credentials_revoke
    from accounts.models import PasswordHistory
    from audit.models import SecurityEvent
    from audit.services import security_event_record

    first_password = not PasswordHistory.objects.filter(user_id=user.pk).exists()
    PasswordHistory.objects.create(user_id=user.pk, password_hash=user.password)
    keep = PasswordHistory.objects.filter(user_id=user.pk).order_by("-created_at", "-id")
    stale = list(keep.values_list("pk", flat=True)[settings.PASSWORD_HISTORY_COUNT :])
    if stale:
        PasswordHistory.objects.filter(pk__in=stale).delete()

    if first_password:
        return
    credentials_revoke(user=user, reason="credentials", sessions=True)
    security_event_record(event_type=SecurityEvent.Type.PASSWORD_CHANGED, target_user=user)
    logger.info("password.changed", extra={"user_id": user.pk})


def password_is_expired(user: Any, now: Any = None) -> bool:
    """Whether the compliance profile's expiry forces a change at sign-in."""
    if settings.PASSWORD_POLICY_PROFILE != "compliance" or settings.PASSWORD_EXPIRY_DAYS <= 0:
        return False
    changed = getattr(user, "password_changed_at", None)
    if changed is None or not user.has_usable_password():
        return False
    moment = now or timezone.now()
    return moment - changed > timedelta(days=settings.PASSWORD_EXPIRY_DAYS)


NIST_DEVIATION_REASON = (
    "The CloudExpress compliance document requires composition rules and a 90-day "
    "expiry. NIST SP 800-63B-4 (section 3.1.1.2) and OWASP ASVS 5.0 (V6.2) forbid "
    "both because they push users to predictable patterns; the company keeps them "
    "until the document is revised. Set PASSWORD_POLICY_PROFILE=nist to follow NIST."
)


PROFILE_NAMES = {
    "compliance": "CloudExpress compliance document (default)",
    "nist": "NIST SP 800-63B-4 and OWASP ASVS 5.0",
}


def policy_describe() -> dict[str, Any]:
    """Return the active password policy: the one selector that both the
    policy page and ``GET /api/compliance/security/policy`` read, so the two
    cannot disagree."""
    profile = settings.PASSWORD_POLICY_PROFILE
    body: dict[str, Any] = {
        "profile": profile,
        "profile_name": PROFILE_NAMES.get(profile, profile),
        "history_count": settings.PASSWORD_HISTORY_COUNT,
        "hasher": settings.PASSWORD_HASHERS[0].rsplit(".", 1)[-1],
        "lockout": {
            "failures": settings.AXES_FAILURE_LIMIT,
            "cool_off_seconds": int(settings.AXES_COOLOFF_TIME.total_seconds()),
            "per": list(settings.AXES_LOCKOUT_PARAMETERS),
        },
    }
    if profile == "compliance":
        body.update(
            min_length=12,
            composition=["upper", "lower", "digit", "special"],
            expiry_days=settings.PASSWORD_EXPIRY_DAYS,
            breached_list=False,
            deviations=[
                {
                    "standard": "NIST SP 800-63B-4",
                    "rules": ["composition", "periodic_expiry", "min_length_below_15"],
                    "reason": NIST_DEVIATION_REASON,
                }
            ],
        )
    else:
        body.update(
            min_length=15,
            composition=[],
            expiry_days=None,
            breached_list=True,
            deviations=[],
        )
    return body
