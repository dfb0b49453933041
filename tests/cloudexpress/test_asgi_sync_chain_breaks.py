"""SyncChainASGIHandler against what Django's own handler does (found by the
breaker): streaming answers, the role graph kept between requests of one
process, and bodies refused by size, through the real ASGI application."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.test import Client

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
    # Under ASGI Django consumes a synchronous iterator whole, on the
    # request's thread and connection, before sending: the CSV header row
    # arrives, and the export recorded its event with the request's actor.
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
