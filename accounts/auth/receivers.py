"""Signal receivers that turn sign-in flows into security events.

Each receiver only records or stamps; the decisions live in the services.
"""

from __future__ import annotations

import logging
from typing import Any

from allauth.account.signals import (
    email_confirmed,
    password_changed,
    password_reset,
    password_set,
)
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from accounts.auth import sessions
from accounts.auth.lockout import axes_username, lockout_episodes_open, lockouts_expired_close
from accounts.models import LockoutEpisode, User, normalise_email
from audit.models import SecurityEvent
from audit.services import security_event_record

logger = logging.getLogger(__name__)


def _country_detail(request: Any) -> dict[str, str]:
    """The sign-in's country, by the one offline lookup: the anomaly model
    reads it from the event (``detail.country``) for its new-country factor."""
    from accounts.auth.geo import country_for_ip
    from cloudexpress.clientip import client_ip

    country = country_for_ip(client_ip(request)) if request is not None else None
    return {"country": country} if country else {}


def _unlocks_observe(request: Any, email: str) -> None:
    """An attempt after a cool-off is where its end is first seen: record it."""
    from cloudexpress.clientip import client_ip

    ip = client_ip(request) if request is not None else ""
    lockouts_expired_close(
        subjects=[(LockoutEpisode.Kind.ACCOUNT, email), (LockoutEpisode.Kind.ADDRESS, ip)]
    )


@receiver(user_logged_in, dispatch_uid="cx_auth_logged_in")
def _on_logged_in(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        sessions.session_mark_signed_in(request)
    _unlocks_observe(request, normalise_email(user.email))
    security_event_record(
        event_type=SecurityEvent.Type.SIGN_IN_SUCCEEDED,
        actor=user,
        target_user=user,
        detail={"channel": "web", **_country_detail(request)},
    )


@receiver(user_logged_out, dispatch_uid="cx_auth_logged_out")
def _on_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        security_event_record(event_type=SecurityEvent.Type.SIGNED_OUT, target_user=user)


@receiver(user_login_failed, dispatch_uid="cx_auth_login_failed")
def _on_login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kw: Any
) -> None:
    # The e-mail tried is personal data: the event keeps the account when it
    # exists, never the address typed.
    email = axes_username(request, credentials)
    _unlocks_observe(request, email)
    target = User.objects.filter(email=email).only("pk").first() if email else None
    security_event_record(
        event_type=SecurityEvent.Type.SIGN_IN_FAILED,
        target_user=target,
        detail={"known_account": target is not None, **_country_detail(request)},
    )


@receiver(user_locked_out, dispatch_uid="cx_auth_locked_out")
def _on_locked_out(
    sender: Any, request: Any, username: str | None, ip_address: str, **kw: Any
) -> None:
    target = User.objects.filter(email=username).only("pk").first() if username else None
    lockout_episodes_open(username=username, ip=ip_address)
    security_event_record(
        event_type=SecurityEvent.Type.LOCKED_OUT,
        target_user=target,
        ip=ip_address,
        detail={"known_account": target is not None},
    )


@receiver(email_confirmed, dispatch_uid="cx_auth_email_confirmed")
def _on_email_confirmed(sender: Any, request: Any, email_address: Any, **kw: Any) -> None:
    security_event_record(
        event_type=SecurityEvent.Type.EMAIL_VERIFIED, target_user=email_address.user_id
    )


@receiver(password_reset, dispatch_uid="cx_auth_password_reset")
def _on_password_reset(sender: Any, request: Any, user: User, **kw: Any) -> None:
    security_event_record(event_type=SecurityEvent.Type.PASSWORD_RESET, target_user=user)


@receiver(password_changed, dispatch_uid="cx_auth_password_changed_restamp")
@receiver(password_set, dispatch_uid="cx_auth_password_set_restamp")
def _on_password_changed(sender: Any, request: Any, user: User, **kw: Any) -> None:
    # The change bumped credentials_version to refuse every other session and
    # token; the session that made the change stays signed in (allauth keeps it
    # with update_session_auth_hash), so it takes the new version as its stamp.
    from accounts.middleware import SESSION_CREDENTIALS_VERSION

    if request is None or not hasattr(request, "session") or not user.is_authenticated:
        return
    if request.session.get(SESSION_CREDENTIALS_VERSION) is None:
        return
    request.session[SESSION_CREDENTIALS_VERSION] = User.objects.values_list(
        "credentials_version", flat=True
    ).get(pk=user.pk)
