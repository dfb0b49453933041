"""Refuse, on the very next request, a session whose user was terminated or
whose credentials changed since it signed in."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from cloudexpress.api.exceptions import json_error

logger = logging.getLogger(__name__)

# The user's credentials_version when the session signed in.
SESSION_CREDENTIALS_VERSION = "_cx_credentials_version"


@receiver(user_logged_in, dispatch_uid="accounts.session_credentials_version")
def _stamp_credentials_version(
    sender: object, request: HttpRequest, user: object, **kwargs: object
) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_CREDENTIALS_VERSION] = getattr(user, "credentials_version", None)


class CredentialsMiddleware:
    """After AuthenticationMiddleware: sign out a session whose user is
    terminated or deactivated, or whose credentials_version was raised (by
    termination, a password change or an MFA reset) after it signed in.

    Termination also deletes the session rows; this check covers a session
    held anywhere else and any change that bumps the version without
    touching sessions."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            stamped = request.session.get(SESSION_CREDENTIALS_VERSION)
            refused = (
                user.terminated_at is not None
                or not user.is_active
                or (stamped is not None and stamped != user.credentials_version)
            )
            if refused:
                logger.info("session.refused", extra={"user_id": user.pk})
                logout(request)
                if request.path.startswith("/api/"):
                    return json_error(request, 401, "Your session has ended: sign in again.")
                return redirect("login")
            if stamped is None:
                # A session from before this check existed: stamp it now.
                request.session[SESSION_CREDENTIALS_VERSION] = user.credentials_version
        return self.get_response(request)
