"""
Per-request context: request id, client address and user agent.

The values live in context variables so that code far from the view (audit
entries, security events, log records, the session store) can read them
without the request being passed down.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse

from cloudexpress.clientip import client_ip

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
USER_AGENT_MAX = 512


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    ip: str | None
    user_agent: str
    actor_id: int | None = None
    # A system job that acted, when there is no person: "celery:retention".
    system_actor: str = ""


_current: ContextVar[RequestContext | None] = ContextVar("cx_request_context", default=None)


def current() -> RequestContext | None:
    return _current.get()


def current_request_id() -> str | None:
    context = _current.get()
    return context.request_id if context else None


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def bind(context: RequestContext) -> Iterator[RequestContext]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


@contextmanager
def system_job(name: str) -> Iterator[RequestContext]:
    """Run a block as the named system job, for tasks and commands."""
    with bind(RequestContext(new_request_id(), None, "", None, name)) as context:
        yield context


def set_actor(user_id: int | None) -> None:
    """Record who acts from now on in this request (after DRF authenticated)."""
    context = _current.get()
    if context is not None:
        _current.set(
            RequestContext(
                context.request_id, context.ip, context.user_agent, user_id, context.system_actor
            )
        )


class RequestContextMiddleware:
    """Give every request an id (accepted from X-Request-ID when well formed)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        supplied = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = supplied if _VALID_REQUEST_ID.match(supplied) else new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        context = RequestContext(
            request_id=request_id,
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:USER_AGENT_MAX],
        )
        with bind(context):
            response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


class AuditActorMiddleware:
    """
    Record the signed-in user as the actor of whatever this request writes.

    Audit entries and security events read the actor, client IP and request id
    from the request context when they are saved. API views authenticated by
    JWT or API key set the actor again from their authentication classes,
    since those authenticate after this middleware ran.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            set_actor(user.pk)
        return self.get_response(request)
