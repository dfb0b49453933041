"""Ending a user's credentials: sessions, JWT families, API keys, OAuth tokens."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

logger = logging.getLogger(__name__)


@transaction.atomic
def credentials_revoke(
    *,
    user: Any,
    reason: str,
    sessions: bool = True,
    api_keys: bool = False,
    oauth_tokens: bool = False,
    keep_session_key: str | None = None,
    bump_version: bool = True,
) -> None:
    """Refuse, from the next request on, every credential ``user`` holds.

    The version bump refuses every JWT at once (access tokens carry the
    version and are checked on each request); families are closed so their
    refresh tokens fail too, even if the version claim were not checked.
    """
    from accounts.models import ApiKey, TokenFamily, User, UserSession

    now = timezone.now()
    if bump_version:
        User.objects.filter(pk=user.pk).update(credentials_version=F("credentials_version") + 1)
    user.credentials_version = User.objects.values_list("credentials_version", flat=True).get(
        pk=user.pk
    )
    TokenFamily.objects.filter(user_id=user.pk, revoked_at__isnull=True).update(
        revoked_at=now, revoked_reason=reason
    )
    if sessions:
        doomed = UserSession.objects.filter(user_id=user.pk)
        if keep_session_key:
            doomed = doomed.exclude(session_key=keep_session_key)
        doomed.delete()
    if api_keys:
        ApiKey.objects.filter(user_id=user.pk, revoked_at__isnull=True).update(revoked_at=now)
    if oauth_tokens:
        from allauth.socialaccount.models import SocialToken

        SocialToken.objects.filter(account__user_id=user.pk).delete()
    logger.info("credentials.revoked", extra={"user_id": user.pk, "reason": reason})


def terminated_user_revoke(*, user: Any, organization: Any, by: Any, reason: str) -> int:
    """Revoker registered with ``accounts.termination``.

    When the whole user is terminated, or the removal ended their last
    membership, their sessions, JWT families and OAuth tokens end. The caller
    (``user_terminate`` or ``membership_end``) has already raised
    credentials_version once for that event, so it is not raised again: one
    termination is one credentials change. While other memberships remain
    the sessions and JWTs stay (authorization refuses the removed
    organization on every request); API keys are scoped, so only that
    organization's keys go unless the whole user is terminated.
    """
    from accounts.models import ApiKey, Membership

    remaining = Membership.objects.filter(
        user_id=user.pk, status=Membership.Status.ACTIVE
    ).exists()
    if organization is None or not remaining:
        credentials_revoke(
            user=user,
            reason="terminated",
            sessions=True,
            oauth_tokens=True,
            bump_version=False,
        )
    keys = ApiKey.objects.filter(user_id=user.pk, revoked_at__isnull=True)
    if organization is not None:
        keys = keys.filter(organization_id=getattr(organization, "pk", organization))
    return int(keys.update(revoked_at=timezone.now()))
