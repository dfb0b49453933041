"""SyncChainASGIHandler against what Django's own handler does (found by the
breaker): streaming answers, the role graph kept between requests of one
process, and bodies refused by size, through the real ASGI application."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.test import Client, override_settings
from django.urls import path

from accounts.models import Permission
from accounts.services import roles_builtin_ensure
from audit.models import SecurityEvent
from cloudexpress.asgi import SyncChainASGIHandler, application
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

# Requests run on threads of their own: the rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


def http_scope(
    method: str, path: str, headers: list[tuple[bytes, bytes]], client_port: int = 50000
) -> dict[str, Any]:
    """An HTTP/1.1 request's ASGI scope, as uvicorn builds it on loopback."""
    return {
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
        "client": ("127.0.0.1", client_port),
        "server": ("127.0.0.1", 8000),
    }


def _exchange(
    method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> tuple[int, dict[bytes, bytes], bytes]:
    scope = http_scope(method, path, headers)

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


_running = 0
_most_running = 0
_running_lock = threading.Lock()
_three_at_once = threading.Event()


def _one_slot_view(request: Any) -> HttpResponse:
    """Count the requests inside the chain at once. A third one arriving
    ends the wait of all: without a limit the test fails at once instead of
    after a timeout."""
    global _running, _most_running
    with _running_lock:
        _running += 1
        _most_running = max(_most_running, _running)
        if _running >= 3:
            _three_at_once.set()
    _three_at_once.wait(timeout=0.3)
    with _running_lock:
        _running -= 1
    return HttpResponse("ok")


urlpatterns = [path("stream/", _sixteen_parts), path("slot/", _one_slot_view)]


@override_settings(ROOT_URLCONF=__name__)
def test_a_synchronous_stream_is_sent_batch_by_batch_not_read_whole_first() -> None:
    """Django's own handler reads a synchronous stream into a list before
    the first byte goes out; the portal's sends each 256 KiB batch as it is
    read, so a large export never sits whole in a worker."""
    _sent.clear()
    _seen_when_made.clear()
    scope = http_scope("GET", "/stream/", [])

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


@override_settings(ROOT_URLCONF=__name__, ASGI_REQUEST_SLOTS=2)
def test_a_worker_runs_no_more_requests_at_once_than_its_slots() -> None:
    """Six requests arrive together at a worker with two slots: all six are
    answered, never more than two inside the middleware chain at once (with
    a connection pool the slots are the pool's size, so none waits for a
    connection mid-request)."""
    global _most_running
    _most_running = 0
    _three_at_once.clear()
    handler = SyncChainASGIHandler()

    async def one(index: int) -> int:
        scope = http_scope("GET", "/slot/", [], client_port=50000 + index)
        communicator = ApplicationCommunicator(handler, scope)
        await communicator.send_input({"type": "http.request", "body": b""})
        start = await communicator.receive_output(timeout=30)
        await communicator.receive_output(timeout=30)
        await communicator.wait(timeout=30)
        return int(start["status"])

    async def six() -> list[int]:
        return list(await asyncio.gather(*(one(i) for i in range(6))))

    statuses = contextvars.Context().run(asyncio.run, six())
    assert statuses == [200] * 6
    assert _most_running == 2
    assert not _three_at_once.is_set()
