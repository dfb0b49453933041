"""Session policy: idle timeout, absolute lifetime, listing and revocation.

Django extends a database session's expiry on every save, so its own expiry
is an idle limit at best; the absolute lifetime is therefore counted from
the sign-in time this module stores in the session.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from accounts.models import User, UserSession
from audit.models import SecurityEvent
from audit.services import security_event_record

logger = logging.getLogger(__name__)

SIGNED_IN_AT = "cx_signed_in_at"
LAST_SEEN = "cx_last_seen"
MFA_CHECK = "cx_mfa_required_checked"


def session_handle(session_key: str) -> str:
    """A stable public name for a session; the key itself never leaves the server."""
    return hashlib.sha256(b"session-handle:" + session_key.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class SessionRow:
    handle: str
    ip: str | None
    user_agent: str
    created_at: datetime
    last_seen_at: datetime
    is_current: bool


def sessions_for_user(*, user: Any, current_key: str | None) -> list[SessionRow]:
    """The user's unexpired sessions, newest first (one query)."""
    rows = (
        UserSession.objects.filter(user_id=user.pk, expire_date__gt=timezone.now())
        .order_by("-last_seen_at")
        .values_list("session_key", "ip", "user_agent", "created_at", "last_seen_at")
    )
    return [
        SessionRow(session_handle(key), ip, agent, created, seen, key == current_key)
        for key, ip, agent, created, seen in rows
    ]


def session_revoke_own(*, user: Any, public_handle: str, current_key: str | None) -> bool:
    """Sign out one of the user's own sessions by its public handle."""
    keys = UserSession.objects.filter(user_id=user.pk).values_list("session_key", flat=True)
    for key in keys:
        if session_handle(key) == public_handle:
            UserSession.objects.filter(user_id=user.pk, session_key=key).delete()
            security_event_record(
                event_type=SecurityEvent.Type.SESSION_REVOKED,
                target_user=user,
                detail={"scope": "one", "current": key == current_key},
            )
            return True
    return False


def sessions_revoke_all(*, user: Any, actor: Any = None) -> int:
    """Sign ``user`` out everywhere (admin action)."""
    deleted, _ = UserSession.objects.filter(user_id=user.pk).delete()
    security_event_record(
        event_type=SecurityEvent.Type.SESSION_REVOKED,
        actor=actor,
        target_user=user,
        detail={"scope": "all", "count": deleted},
    )
    return deleted


def session_rotate(request: HttpRequest) -> None:
    """New session key, same data: call after a privilege change."""
    request.session.cycle_key()


def session_mark_signed_in(request: HttpRequest) -> None:
    now = int(time.time())
    request.session[SIGNED_IN_AT] = now
    request.session[LAST_SEEN] = now


def session_end_reason(data: Mapping[str, Any] | SessionBase, *, now: int) -> str:
    """Why a session's own clocks have ended it: ``"idle"`` (no request for
    SESSION_IDLE_SECONDS) or ``"absolute"`` (SESSION_COOKIE_AGE since the
    sign-in); ``""`` while it may go on. A clock the session lacks counts
    from now."""
    signed_in = int(data.get(SIGNED_IN_AT, now))
    seen = int(data.get(LAST_SEEN, now))
    if now - seen > settings.SESSION_IDLE_SECONDS:
        return "idle"
    if now - signed_in > settings.SESSION_COOKIE_AGE:
        return "absolute"
    return ""


def session_user_signed_in(*, session_key: str | None, user_id: int | None) -> User | None:
    """The user that the session ``session_key`` still signs in, or None.

    For a connection that outlives the request it was opened with (the
    dashboard's WebSocket), this is the check a page request would make: the
    session row still exists (not signed out, revoked by its user or an
    admin, or deleted by termination), belongs to ``user_id``, has not
    expired, is neither idle nor past its lifetime, and signed in with the
    user's current credentials. One query: the row with its user.
    """
    from accounts.middleware import SESSION_CREDENTIALS_VERSION

    if not session_key or user_id is None:
        return None
    row = (
        UserSession.objects.select_related("user")
        .filter(session_key=session_key, user_id=user_id, expire_date__gt=timezone.now())
        .first()
    )
    if row is None or row.user is None:
        return None
    data = row.get_decoded()
    if session_end_reason(data, now=int(time.time())):
        return None
    user = row.user
    stamped = data.get(SESSION_CREDENTIALS_VERSION)
    if (
        user.terminated_at is not None
        or not user.is_active
        or (stamped is not None and stamped != user.credentials_version)
    ):
        return None
    return user


def _is_exempt(path: str) -> bool:
    return path.startswith((settings.STATIC_URL, "/healthz", "/readyz", "/metrics"))


class SessionPolicyMiddleware:
    """Idle timeout, absolute lifetime and forced password change, for pages
    and the session-authenticated API alike."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or _is_exempt(request.path):
            return self.get_response(request)

        now = int(time.time())
        session = request.session
        seen = int(session.get(LAST_SEEN, now))
        reason = session_end_reason(session, now=now)
        if not reason and getattr(user, "terminated_at", None) is not None:
            reason = "terminated"
        if reason:
            security_event_record(
                event_type=SecurityEvent.Type.SIGNED_OUT,
                target_user=user,
                detail={"reason": f"session_{reason}"},
            )
            logout(request)
            return self.get_response(request)

        if SIGNED_IN_AT not in session:
            session[SIGNED_IN_AT] = now
        if now - seen >= settings.SESSION_TOUCH_SECONDS or LAST_SEEN not in session:
            session[LAST_SEEN] = now

        from accounts.auth.passwords import password_is_expired

        if password_is_expired(user) and not self._may_pass_when_expired(request.path):
            if request.path.startswith("/api/"):
                from cloudexpress.api.exceptions import json_error

                return json_error(request, 403, "Your password has expired: change it first.")
            return HttpResponseRedirect(reverse("account_change_password"))

        if self._second_factor_missing(request, user, now):
            if request.path.startswith("/api/"):
                from cloudexpress.api.exceptions import json_error

                return json_error(request, 403, "Your role requires a second factor: enrol one.")
            return HttpResponseRedirect(reverse("auth_mfa_settings"))
        return self.get_response(request)

    @staticmethod
    def _second_factor_missing(request: HttpRequest, user: Any, now: int) -> bool:
        """A session without a verified second factor whose user now needs one
        (promoted to Admin, or the organization began requiring MFA after the
        sign-in). The answer is kept in the session for a minute, so the
        common case costs no query."""
        is_verified = getattr(user, "is_verified", None)
        if is_verified is not None and is_verified():
            return False
        path = request.path
        if path in (reverse("auth_mfa_settings"), reverse("account_logout")):
            return False
        session = request.session
        checked = session.get(MFA_CHECK)
        if checked and now - int(checked[0]) < settings.SESSION_TOUCH_SECONDS:
            return bool(checked[1])
        from accounts.auth.mfa import mfa_required_for

        required = mfa_required_for(user)
        session[MFA_CHECK] = [now, required]
        return required

    def process_view(
        self, request: HttpRequest, view: Any, args: Any, kwargs: dict[str, Any]
    ) -> HttpResponse | None:
        """Pages that act in an organization (an ``org_slug`` in their URL)
        need a current membership and an address inside its allowlist."""
        slug = kwargs.get("org_slug")
        user = getattr(request, "user", None)
        if not slug or user is None or not user.is_authenticated:
            return None
        from django.shortcuts import render

        from accounts.auth import ipallow
        from accounts.models import Organization
        from cloudexpress.clientip import client_ip

        organization = Organization.objects.filter(slug=slug).first()
        membership = (
            ipallow.membership_current(user=user, organization_id=organization.pk)
            if organization
            else None
        )
        if organization is None or membership is None:
            return render(
                request, "errors/error.html", {"status": 404, "title": "Not found"}, status=404
            )
        if not ipallow.ip_access_check(
            organization=organization, ip=client_ip(request), user=user, channel="page"
        ):
            return render(
                request,
                "errors/error.html",
                {"status": 403, "title": "Your address may not reach this organization"},
                status=403,
            )
        request.cx_organization = organization  # type: ignore[attr-defined]
        request.cx_membership = membership  # type: ignore[attr-defined]
        return None

    @staticmethod
    def _may_pass_when_expired(path: str) -> bool:
        allowed = (reverse("account_change_password"), reverse("account_logout"))
        return path in allowed
