"""GitHub sign-in rules on top of allauth's GitHub provider.

Accounts are keyed on the GitHub user id (allauth's uid). An e-mail address
never joins a GitHub identity to an existing account: e-mail authentication
and auto-connect are off in settings, a new GitHub identity whose address
belongs to an account is refused here, and only addresses GitHub reports as
verified count. Linking GitHub to an existing account is a ``connect`` flow
that needs a fresh password and second-factor check (``github_link_allow``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from allauth.core.exceptions import ImmediateHttpResponse
from django.contrib import messages
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from accounts.models import User
from audit.models import SecurityEvent
from audit.services import security_event_record

logger = logging.getLogger(__name__)

LINK_SESSION_KEY = "cx_github_link_allowed_until"
LINK_WINDOW_SECONDS = 300


def _verified_addresses(sociallogin: Any) -> list[str]:
    return [a.email.strip().lower() for a in sociallogin.email_addresses if a.verified]


def github_auto_signup_allowed(sociallogin: Any) -> bool:
    return bool(_verified_addresses(sociallogin))


def _refuse(request: HttpRequest, reason: str, message: str, user: Any = None) -> None:
    security_event_record(
        event_type=SecurityEvent.Type.SIGN_IN_FAILED,
        target_user=user,
        detail={"channel": "github", "reason": reason},
    )
    messages.error(request, message)
    raise ImmediateHttpResponse(HttpResponseRedirect(reverse("account_login")))


def github_pre_login(request: HttpRequest, sociallogin: Any) -> None:
    """Refuse a GitHub sign-in or link that would join the wrong account."""
    process = (sociallogin.state or {}).get("process", "login")
    if process == "connect":
        allowed_until = request.session.pop(LINK_SESSION_KEY, 0)
        if not request.user.is_authenticated or time.time() > float(allowed_until):
            _refuse(
                request,
                "link_not_confirmed",
                "Confirm your password and second factor before linking GitHub.",
                request.user if request.user.is_authenticated else None,
            )
        return
    if sociallogin.is_existing:
        return
    verified = _verified_addresses(sociallogin)
    if not verified:
        _refuse(request, "no_verified_email", "GitHub did not report a verified e-mail address.")
    all_addresses = [a.email.strip().lower() for a in sociallogin.email_addresses]
    if User.objects.filter(email__in=all_addresses).exists():
        # Same answer whether or not the address is known would need GitHub
        # to be the only way in; here the owner must link from their account.
        _refuse(
            request,
            "email_belongs_to_account",
            "Sign in with your password, then link GitHub from your account page.",
        )


def github_link_allow(request: HttpRequest) -> None:
    """Open the short window in which this session may link GitHub."""
    request.session[LINK_SESSION_KEY] = time.time() + LINK_WINDOW_SECONDS
