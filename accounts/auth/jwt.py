"""JWT issue and refresh with token families and a credentials-version claim.

simplejwt signs and checks the tokens; this module adds what it lacks:

* a family per sign-in at the token endpoint; every refresh token is a row
  (``RefreshRecord``) and rotating it marks the row used;
* a refresh takes the row under ``SELECT ... FOR UPDATE``, so of two
  concurrent refreshes of one token exactly one succeeds; the other, like
  any later presentation of a rotated token, revokes the whole family;
* ``ver`` carries ``User.credentials_version``: termination, a password
  change or an MFA reset bump it and every token issued before is refused.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import RefreshRecord, TokenFamily, User
from audit.models import SecurityEvent
from audit.services import security_event_record

logger = logging.getLogger(__name__)

FAMILY_CLAIM = "fam"
VERSION_CLAIM = "ver"
# True when the second factor was checked at the token endpoint.
MFA_CLAIM = "mfa"


class RefreshRefusedError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _issue(*, user: User, family: TokenFamily, mfa: bool) -> dict[str, str]:
    refresh = RefreshToken.for_user(user)
    refresh[FAMILY_CLAIM] = str(family.public_id)
    refresh[VERSION_CLAIM] = user.credentials_version
    refresh[MFA_CLAIM] = mfa
    RefreshRecord.objects.create(
        jti=refresh["jti"],
        family=family,
        expires_at=datetime.fromtimestamp(refresh["exp"], tz=UTC),
    )
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


@transaction.atomic
def token_pair_issue(*, user: User, mfa: bool = False) -> dict[str, str]:
    """Start a family and return its first access and refresh tokens."""
    family = TokenFamily.objects.create(user=user)
    pair = _issue(user=user, family=family, mfa=mfa)
    security_event_record(
        event_type=SecurityEvent.Type.TOKEN_ISSUED,
        actor=user,
        target_user=user,
        detail={"family": str(family.public_id)},
    )
    return pair


def token_refresh(*, raw: str) -> dict[str, str]:
    """Rotate a refresh token; raise ``RefreshRefusedError`` when it is refused."""
    try:
        token = RefreshToken(raw)  # type: ignore[arg-type]
    except TokenError as exc:
        raise RefreshRefusedError("token_not_valid", "The refresh token is not valid.") from exc

    reused_family: TokenFamily | None = None
    with transaction.atomic():
        record = (
            RefreshRecord.objects.select_for_update()
            .select_related("family", "family__user")
            .filter(jti=token.get("jti"))
            .first()
        )
        if record is None:
            raise RefreshRefusedError("token_not_valid", "The refresh token is not known.")
        family = record.family
        user = family.user
        if family.revoked_at is not None:
            raise RefreshRefusedError("token_revoked", "The refresh token was revoked.")
        if record.used_at is not None:
            # Rotated before: someone replays it. Close the family so the
            # newest token (whoever holds it) stops working too.
            TokenFamily.objects.filter(pk=family.pk).update(
                revoked_at=timezone.now(), revoked_reason=TokenFamily.RevokedReason.REUSE
            )
            reused_family = family
        else:
            if (
                not user.is_active
                or user.terminated_at is not None
                or token.get(VERSION_CLAIM) != user.credentials_version
            ):
                raise RefreshRefusedError("token_revoked", "The refresh token was revoked.")
            RefreshRecord.objects.filter(pk=record.pk).update(used_at=timezone.now())
            return _issue(user=user, family=family, mfa=bool(token.get(MFA_CLAIM)))

    security_event_record(
        event_type=SecurityEvent.Type.TOKEN_REUSED,
        target_user=reused_family.user,
        detail={"family": str(reused_family.public_id)},
    )
    logger.warning("jwt.refresh_reused", extra={"family_id": reused_family.pk})
    raise RefreshRefusedError("token_reused", "The refresh token was already used.")


def token_family_revoke(*, raw: str, reason: str = TokenFamily.RevokedReason.SIGN_OUT) -> bool:
    """Sign out a token family by one of its refresh tokens."""
    try:
        token = RefreshToken(raw)  # type: ignore[arg-type]
    except TokenError:
        return False
    record = RefreshRecord.objects.filter(jti=token.get("jti")).first()
    if record is None:
        return False
    TokenFamily.objects.filter(pk=record.family_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason=reason
    )
    return True


def access_claims_valid(user: User, payload: Any) -> bool:
    """Whether an access token's version still matches the user, and a token
    issued without a second factor still may be (the user was not promoted
    to a role that needs one since)."""
    if not (
        user.is_active
        and user.terminated_at is None
        and payload.get(VERSION_CLAIM) == user.credentials_version
    ):
        return False
    if payload.get(MFA_CLAIM):
        return True
    from accounts.auth.mfa import mfa_required_for

    return not mfa_required_for(user)
