"""The dashboard's WebSocket through the real ASGI application: a signed-in
officer from the portal's own origin receives the panels dashboard_broadcast()
sends over the Redis channel layer; others are refused."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import time_machine
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse

from accounts.services import roles_builtin_ensure
from cloudexpress.asgi import application
from compliance.dashboard.services import dashboard_broadcast
from compliance.runs import checks_run
from tests.conftest import require_env
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

# The consumer reads the session and the memberships from other threads, so
# the rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1")
HOST = (b"host", b"127.0.0.1")


def signed_in(organization: Any, kind: str) -> tuple[Any, str]:
    """A new member of ``organization`` with the role ``kind``, signed in as
    the sign-in form does; the user and their session key."""
    user = UserFactory()
    MembershipFactory(user=user, organization=organization, role=roles_builtin_ensure()[kind])
    client = Client()
    client.force_login(user)
    return user, client.cookies[settings.SESSION_COOKIE_NAME].value


def cookie_for(session_key: str) -> bytes:
    return f"{settings.SESSION_COOKIE_NAME}={session_key}".encode()


def session_cookie(organization: Any, kind: str) -> bytes:
    return cookie_for(signed_in(organization, kind)[1])


class Socket(ApplicationCommunicator):
    """A WebSocket client speaking ASGI to the application.

    channels.testing's communicator imports daphne at package import, which
    this project does not install; this is the same few messages.
    """

    def __init__(
        self, *headers: tuple[bytes, bytes], host: bytes = HOST[1], scheme: str = "ws"
    ) -> None:
        scope = {
            "type": "websocket",
            "path": "/ws/dashboard/",
            "raw_path": b"/ws/dashboard/",
            "query_string": b"",
            "headers": [(b"host", host), *headers],
            "scheme": scheme,
            "subprotocols": [],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        super().__init__(application, scope)

    async def connect(self, timeout: float = 10) -> tuple[bool, int | None]:
        await self.send_input({"type": "websocket.connect"})
        reply = await self.receive_output(timeout)
        if reply["type"] == "websocket.close":
            return False, reply.get("code", 1000)
        assert reply["type"] == "websocket.accept"
        return True, None

    async def receive_json_from(self, timeout: float = 10) -> Any:
        reply = await self.receive_output(timeout)
        assert reply["type"] == "websocket.send", reply
        return json.loads(reply["text"])

    async def disconnect(self) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(1)


def _communicator(*headers: tuple[bytes, bytes]) -> Socket:
    return Socket(*headers)


@pytest.fixture
def operator() -> Any:
    require_env("REDIS_URL")
    return OrganizationFactory(slug=settings.OPERATOR_ORGANIZATION_SLUG, is_operator=True)


def test_officer_receives_the_panels_a_finished_run_broadcasts(operator: Any) -> None:
    cookie = session_cookie(operator, "member")

    async def scenario() -> dict[str, Any]:
        socket = _communicator(ORIGIN, (b"cookie", cookie))
        connected, _ = await socket.connect(timeout=10)
        assert connected
        # checks_run() broadcasts when its run commits.
        run = await database_sync_to_async(checks_run)()
        message = await socket.receive_json_from(timeout=60)
        await socket.disconnect()
        return {"run": run, "message": message}

    outcome = async_to_sync(scenario)()
    message, run = outcome["message"], outcome["run"]
    assert message["reason"] == "run_finished"
    assert f"#{run.pk}" in message["panels"]["score"]
    assert f"{run.score * 100:.1f}%" in message["panels"]["score"]
    assert 'id="panel-alerts-inner"' in message["panels"]["alerts"]


def _failed_sign_in_burst(count: int = 10) -> None:
    """Failed sign-ins from one address, as the sign-in form records them."""
    from audit.models import SecurityEvent
    from audit.services import security_event_record

    victim = UserFactory()
    for _ in range(count):
        security_event_record(
            event_type=SecurityEvent.Type.SIGN_IN_FAILED,
            ip="198.51.100.23",
            target_user=victim,
            detail={"username": victim.email},
        )


def test_officer_receives_the_alerts_panel_when_detection_raises_an_alert(
    operator: Any,
) -> None:
    from audit.detection.engine import detection_run
    from audit.models import Alert

    cookie = session_cookie(operator, "member")
    _failed_sign_in_burst()

    async def scenario() -> tuple[dict[str, int], dict[str, Any]]:
        socket = _communicator(ORIGIN, (b"cookie", cookie))
        connected, _ = await socket.connect(timeout=10)
        assert connected
        # The real detection job: it scores the events, the brute-force rule
        # trips, and the alert's commit pushes the panel.
        counts = await database_sync_to_async(detection_run)()
        message = await socket.receive_json_from(timeout=60)
        await socket.disconnect()
        return counts, message

    counts, message = async_to_sync(scenario)()
    raised = list(Alert.objects.order_by("pk"))
    # The burst trips the per-address and the per-account rules: one batch,
    # so one message carries both.
    assert {alert.rule for alert in raised} == {"brute_force_ip", "brute_force_account"}
    assert counts["alerts_created"] == len(raised) == 2
    assert message["reason"] == "alert_raised"
    # Only the alerts panel travels: the score did not change.
    assert set(message["panels"]) == {"alerts"}
    panel = message["panels"]["alerts"]
    assert all(alert.title in panel for alert in raised)
    assert '<a id="figure-alerts" href="/dashboard/alerts/">2</a>' in panel


def test_officer_sees_a_resolved_alert_leave_the_alerts_panel(operator: Any) -> None:
    from audit.detection.alerts import alert_status_change
    from audit.detection.engine import detection_run
    from audit.models import Alert

    cookie = session_cookie(operator, "member")
    _failed_sign_in_burst()
    detection_run()
    first, second = Alert.objects.order_by("pk")
    responder = UserFactory()

    async def scenario() -> dict[str, Any]:
        socket = _communicator(ORIGIN, (b"cookie", cookie))
        connected, _ = await socket.connect(timeout=10)
        assert connected
        await database_sync_to_async(alert_status_change)(
            alert=first, status=Alert.Status.RESOLVED, by=responder, note="a test burst"
        )
        message = await socket.receive_json_from(timeout=60)
        await socket.disconnect()
        return message

    message = async_to_sync(scenario)()
    assert message["reason"] == "alert_status_changed"
    assert set(message["panels"]) == {"alerts"}
    panel = message["panels"]["alerts"]
    assert first.title not in panel
    assert second.title in panel
    assert '<a id="figure-alerts" href="/dashboard/alerts/">1</a>' in panel


def test_detection_that_raises_no_alert_broadcasts_nothing(operator: Any) -> None:
    from audit.detection.engine import detection_run

    cookie = session_cookie(operator, "member")
    _failed_sign_in_burst(count=2)

    async def scenario() -> str:
        socket = _communicator(ORIGIN, (b"cookie", cookie))
        connected, _ = await socket.connect(timeout=10)
        assert connected
        counts = await database_sync_to_async(detection_run)()
        assert counts["alerts_created"] == 0
        # A run broadcasts next; had detection sent anything, it would come
        # first, since the group delivers in order.
        await database_sync_to_async(checks_run)()
        message = await socket.receive_json_from(timeout=60)
        await socket.disconnect()
        return message["reason"]

    assert async_to_sync(scenario)() == "run_finished"


def test_socket_refuses_other_origins_strangers_and_the_anonymous(operator: Any) -> None:
    officer = session_cookie(operator, "member")
    customer = session_cookie(OrganizationFactory(), "owner")

    async def outcome(*headers: tuple[bytes, bytes]) -> Any:
        socket = _communicator(*headers)
        connected, code = await socket.connect(timeout=10)
        if connected:
            await socket.disconnect()
        return connected, code

    # The same officer's cookie works from the portal's origin...
    assert async_to_sync(outcome)(ORIGIN, (b"cookie", officer))[0] is True
    # ...and not from another site (cross-site WebSocket hijacking).
    assert (
        async_to_sync(outcome)((b"origin", b"http://evil.test"), (b"cookie", officer))[0] is False
    )
    assert async_to_sync(outcome)(ORIGIN, (b"cookie", customer)) == (False, 4403)
    assert async_to_sync(outcome)(ORIGIN) == (False, 4403)


def test_socket_accepts_only_the_request_s_own_origin_or_a_trusted_one(operator: Any) -> None:
    cookie = (b"cookie", session_cookie(operator, "member"))

    async def accepted(origin: bytes | None, host: bytes, scheme: str = "ws") -> bool:
        headers = [cookie] if origin is None else [(b"origin", origin), cookie]
        socket = Socket(*headers, host=host, scheme=scheme)
        connected, _ = await socket.connect(timeout=10)
        if connected:
            await socket.disconnect()
        return connected

    def check(origin: bytes | None, host: bytes = b"127.0.0.1:8000", scheme: str = "ws") -> bool:
        return async_to_sync(accepted)(origin, host, scheme)

    # The same cookie from the page's own origin: scheme, host and port.
    assert check(b"http://127.0.0.1:8000") is True
    # Another port of the same host is another origin, as is another scheme
    # or another allowed host name of this machine.
    assert check(b"http://127.0.0.1:9999") is False
    assert check(b"http://127.0.0.1") is False
    assert check(b"https://127.0.0.1:8000") is False
    assert check(b"http://localhost:8000") is False
    # Behind the TLS proxy the socket is wss and the page https, on 443.
    assert check(b"https://127.0.0.1", host=b"127.0.0.1", scheme="wss") is True
    assert check(b"https://127.0.0.1:443", host=b"127.0.0.1", scheme="wss") is True
    assert check(b"http://127.0.0.1", host=b"127.0.0.1", scheme="wss") is False
    # A missing or opaque origin, or a Host outside ALLOWED_HOSTS, is refused.
    assert check(None) is False
    assert check(b"null") is False
    assert check(b"http://evil.test:8000", host=b"evil.test:8000") is False
    # An origin listed in CSRF_TRUSTED_ORIGINS is let in, as Django's CSRF
    # check lets in its forms.
    with override_settings(CSRF_TRUSTED_ORIGINS=["http://127.0.0.1:9999", "https://*.cx.test"]):
        assert check(b"http://127.0.0.1:9999") is True
        assert check(b"https://portal.cx.test") is True
        assert check(b"http://portal.cx.test") is False
        assert check(b"http://127.0.0.1:9998") is False


def test_broadcast_without_listeners_or_layer_never_fails_the_caller(operator: Any) -> None:
    checks_run()
    dashboard_broadcast(reason="alert_raised")


def test_an_open_socket_is_closed_once_the_auditor_s_access_expires(operator: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import Membership

    cookie = session_cookie(operator, "auditor")
    membership = Membership.objects.get(organization=operator)
    Membership.objects.filter(pk=membership.pk).update(
        expires_at=timezone.now() + timedelta(hours=1)
    )

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        socket = _communicator(ORIGIN, (b"cookie", cookie))
        connected, _ = await socket.connect(timeout=10)
        assert connected
        await database_sync_to_async(checks_run)()
        before = await socket.receive_json_from(timeout=60)
        # The time box ends while the dashboard is still open.
        await database_sync_to_async(Membership.objects.filter(pk=membership.pk).update)(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        await database_sync_to_async(checks_run)()
        after = await socket.receive_output(timeout=60)
        await socket.wait(1)
        return before, after

    before, after = async_to_sync(scenario)()
    assert before["reason"] == "run_finished"
    assert after == {"type": "websocket.close", "code": 4403}


# The reads of one push's check on a cold cache: the session row joined to
# its user, then the permission's own reads. Checking the session added none:
# its row replaced the read of the user.
PUSH_CHECK_QUERIES = 5


def _push() -> None:
    dashboard_broadcast(reason="test_push", panels=("alerts",))


class SessionEnding:
    """Ends a signed-in session one of the ways a session ends while the
    dashboard stays open in some tab."""

    def __init__(self, how: str, user: Any, session_key: str) -> None:
        self.how, self.user, self.session_key = how, user, session_key
        self.traveller: Any = None

    def start(self) -> None:
        from accounts.auth.sessions import session_handle, session_revoke_own
        from accounts.services import user_terminate

        if self.how == "signed_out_in_another_tab":
            other_tab = Client()
            other_tab.cookies[settings.SESSION_COOKIE_NAME] = self.session_key
            assert other_tab.post(reverse("logout")).status_code == 302
        elif self.how == "revoked_by_its_user":
            handle = session_handle(self.session_key)
            assert session_revoke_own(user=self.user, public_handle=handle, current_key=None)
        elif self.how == "user_terminated":
            user_terminate(user=self.user, by=None, reason="left the company")
        elif self.how == "idle_timeout":
            # Nothing was requested with this session for longer than the
            # idle limit; the row itself stays until its next request.
            later = time.time() + settings.SESSION_IDLE_SECONDS + 5
            self.traveller = time_machine.travel(later, tick=True)
            self.traveller.start()
        else:
            raise AssertionError(self.how)

    def stop(self) -> None:
        if self.traveller is not None:
            self.traveller.stop()


@pytest.mark.parametrize(
    "how", ["signed_out_in_another_tab", "revoked_by_its_user", "user_terminated", "idle_timeout"]
)
def test_an_open_socket_is_closed_on_the_next_push_once_its_session_ends(
    operator: Any, how: str
) -> None:
    from accounts.models import UserSession

    user, session_key = signed_in(operator, "member")
    ending = SessionEnding(how, user, session_key)

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        socket = _communicator(ORIGIN, (b"cookie", cookie_for(session_key)))
        connected, _ = await socket.connect(timeout=10)
        assert connected
        await database_sync_to_async(_push)()
        before = await socket.receive_json_from(timeout=30)
        await database_sync_to_async(ending.start)()
        try:
            await database_sync_to_async(_push)()
            after = await socket.receive_output(timeout=30)
            # The close is all the socket got: no panels after it either.
            assert await socket.receive_nothing(timeout=0.5)
        finally:
            ending.stop()
        return before, after

    before, after = async_to_sync(scenario)()
    assert before["reason"] == "test_push"
    assert after == {"type": "websocket.close", "code": 4403}
    if how != "idle_timeout":
        assert not UserSession.objects.filter(session_key=session_key).exists()


def test_the_push_time_check_reads_the_session_with_its_user(
    operator: Any, django_assert_num_queries: Any
) -> None:
    from compliance.dashboard.consumers import _still_may_view

    user, session_key = signed_in(operator, "member")
    with django_assert_num_queries(PUSH_CHECK_QUERIES):
        assert _still_may_view(user.pk, session_key) is True
    with django_assert_num_queries(1):
        assert _still_may_view(user.pk, "no-such-session") is False


@override_settings(PRODUCTION=True, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
def test_behind_the_tls_proxy_a_plain_socket_with_the_proxy_header_is_secure(
    operator: Any,
) -> None:
    """The workers do not rewrite the scope from proxy headers, so behind
    nginx the socket arrives as plain ws with X-Forwarded-Proto: https. It is
    secure exactly as Django would judge a page: by SECURE_PROXY_SSL_HEADER."""
    cookie = (b"cookie", session_cookie(operator, "member"))
    origin = (b"origin", b"https://127.0.0.1")

    async def outcome(*headers: tuple[bytes, bytes]) -> tuple[bool, int | None]:
        socket = Socket(*headers, host=b"127.0.0.1", scheme="ws")
        connected, code = await socket.connect(timeout=10)
        if connected:
            await socket.disconnect()
        return connected, code

    proxied = (b"x-forwarded-proto", b"https")
    assert async_to_sync(outcome)(origin, cookie, proxied)[0] is True
    # Without the header the same socket is plain: its https origin is not
    # its own, and a plain http page's socket is refused in production.
    assert async_to_sync(outcome)(origin, cookie)[0] is False
    plain = (b"origin", b"http://127.0.0.1")
    assert async_to_sync(outcome)(plain, cookie) == (False, 4400)
