"""SyncChainASGIHandler against what Django's own handler does (found by the
breaker): streaming answers, the role graph kept between requests of one
process, and bodies refused by size, through the real ASGI application."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.http import StreamingHttpResponse
from django.test import Client, override_settings
from django.urls import path

from accounts.models import Permission
from accounts.services import roles_builtin_ensure
from audit.models import SecurityEvent
from cloudexpress.asgi import application
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

# Requests run on threads of their own: the rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


def _exchange(
    method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> tuple[int, dict[bytes, bytes], bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }

    async def exchange() -> tuple[int, dict[bytes, bytes], bytes]:
        communicator = ApplicationCommunicator(application, scope)
        await communicator.send_input({"type": "http.request", "body": body})
        start = await communicator.receive_output(timeout=30)
        received = b""
        while True:
            message = await communicator.receive_output(timeout=30)
            received += message.get("body", b"")
            if not message.get("more_body"):
                break
        await communicator.wait(timeout=30)
        return start["status"], {k.lower(): v for k, v in start["headers"]}, received

    return contextvars.Context().run(asyncio.run, exchange())


def _operator_cookie(kind: str) -> tuple[Any, bytes]:
    operator = OrganizationFactory(slug=settings.OPERATOR_ORGANIZATION_SLUG, is_operator=True)
    user = UserFactory()
    MembershipFactory(user=user, organization=operator, role=roles_builtin_ensure()[kind])
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return user, f"{name}={client.cookies[name].value}".encode()


def test_a_streamed_csv_export_arrives_whole_with_its_audit_event() -> None:
    user, cookie = _operator_cookie("auditor")
    status, headers, body = _exchange("GET", "/audit/log/export.csv", [(b"cookie", cookie)])
    assert status == 200, body[:300]
    assert headers[b"content-type"].startswith(b"text/csv")
    lines = body.decode().splitlines()
    # The stream is read batch by batch on the request's thread and
    # connection: the CSV header row arrives, and the export recorded its
    # event with the request's actor.
    assert lines and "," in lines[0], lines[:3]
    event = SecurityEvent.objects.get(event_type=SecurityEvent.Type.DATA_EXPORTED)
    assert event.actor_id == user.pk


def test_a_code_revoked_between_two_requests_is_refused_on_the_second() -> None:
    _user, cookie = _operator_cookie("auditor")
    status, _headers, body = _exchange("GET", "/audit/log/", [(b"cookie", cookie)])
    assert status == 200, body[:300]
    auditor = roles_builtin_ensure()["auditor"]
    auditor.permissions.remove(Permission.objects.get(code="audit_log.view"))
    status, _headers, _body = _exchange("GET", "/audit/log/", [(b"cookie", cookie)])
    assert status == 403


def test_a_body_declared_larger_than_the_upload_limit_is_refused_before_the_view() -> None:
    _user, cookie = _operator_cookie("member")
    length = str(settings.MAX_UPLOAD_BYTES + 1).encode()
    status, _headers, body = _exchange(
        "POST",
        "/api/v1/organizations/",
        [(b"cookie", cookie), (b"content-length", length), (b"content-type", b"application/json")],
        b"{}",
    )
    assert status == 413, body[:300]


# A view of this module's own, mounted by override_settings below: a
# synchronous stream of 16 parts of 64 KiB that notes, as it makes each part,
# how many body messages the server had already sent.
_sent: list[dict[str, Any]] = []
_seen_when_made: list[int] = []


def _sixteen_parts(request: Any) -> StreamingHttpResponse:
    def parts() -> Iterator[bytes]:
        for index in range(16):
            _seen_when_made.append(sum(1 for m in _sent if m["type"] == "http.response.body"))
            yield bytes([65 + index]) * (64 * 1024)

    return StreamingHttpResponse(parts(), content_type="application/octet-stream")


urlpatterns = [path("stream/", _sixteen_parts)]


@override_settings(ROOT_URLCONF=__name__)
def test_a_synchronous_stream_is_sent_batch_by_batch_not_read_whole_first() -> None:
    """Django's own handler reads a synchronous stream into a list before
    the first byte goes out; the portal's sends each 256 KiB batch as it is
    read, so a large export never sits whole in a worker."""
    _sent.clear()
    _seen_when_made.clear()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/stream/",
        "raw_path": b"/stream/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }

    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        _sent.append(message)

    contextvars.Context().run(asyncio.run, application(scope, receive, send))

    assert _sent[0]["type"] == "http.response.start" and _sent[0]["status"] == 200
    body = b"".join(m.get("body", b"") for m in _sent if m["type"] == "http.response.body")
    assert body == b"".join(bytes([65 + i]) * (64 * 1024) for i in range(16))
    # Four parts make a batch, sent as four messages of Django's 64 KiB: the
    # fifth part was made after the first batch went out, and so on.
    assert _seen_when_made == [0] * 4 + [4] * 4 + [8] * 4 + [12] * 4
    assert _sent[-1] == {"type": "http.response.body"}
