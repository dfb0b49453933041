"""The ASGI entry point: Django's chain runs in synchronous mode in one hop,
and every cache object of a process shares one Redis connection pool."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest
import redis
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.core.cache import caches

from cloudexpress.asgi import SyncChainASGIHandler, application, django_application
from cloudexpress.rediscache import SharedConnectionPool

pytestmark = pytest.mark.django_db(transaction=True)


def _get(path: str) -> tuple[int, dict[bytes, bytes], bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }

    async def exchange() -> tuple[int, dict[bytes, bytes], bytes]:
        communicator = ApplicationCommunicator(application, scope)
        await communicator.send_input({"type": "http.request", "body": b""})
        start = await communicator.receive_output(timeout=30)
        body = b""
        while True:
            message = await communicator.receive_output(timeout=30)
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await communicator.wait(timeout=30)
        headers = {name.lower(): value for name, value in start["headers"]}
        return start["status"], headers, body

    # In an empty context, as a server's event loop runs each request: the
    # test's own context holds cache objects a request would inherit.
    return contextvars.Context().run(asyncio.run, exchange())


def test_the_chain_is_built_in_synchronous_mode() -> None:
    assert isinstance(django_application, SyncChainASGIHandler)
    assert not asyncio.iscoroutinefunction(django_application._middleware_chain)


def test_a_request_passes_the_whole_chain_under_asgi() -> None:
    status, headers, body = _get("/healthz")
    assert status == 200, body
    # Set by middleware at both ends of the chain.
    assert b"content-security-policy" in headers
    assert headers[b"x-frame-options"] == b"DENY"
    assert b"x-request-id" in headers


def test_an_unknown_path_is_django_404_not_a_server_error() -> None:
    status, _headers, _body = _get("/no-such-page/")
    assert status == 404


@pytest.mark.skipif(not settings.REDIS_URL, reason="the embedded default has no Redis")
def test_cache_objects_of_different_threads_share_one_pool() -> None:
    pools = []

    def pool_of_this_thread() -> None:
        cache = caches["default"]
        cache.get("anything")  # the pool is built on first use
        pools.append(cache._cache._get_connection_pool(False))

    threads = [threading.Thread(target=pool_of_this_thread) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(pools) == 4
    assert all(pool is pools[0] for pool in pools)
    assert isinstance(pools[0], redis.ConnectionPool)


@pytest.mark.skipif(not settings.REDIS_URL, reason="the embedded default has no Redis")
def test_threads_of_their_own_do_not_open_a_redis_connection_each() -> None:
    """Under ASGI each request runs on a thread of its own, with cache
    objects of its own: here twenty such threads, as Redis counts them."""
    client = redis.Redis.from_url(settings.REDIS_URL)

    def connections_received() -> int:
        return int(client.info("stats")["total_connections_received"])

    def one_request() -> None:
        caches["default"].get("blocklist:version")

    warm = threading.Thread(target=one_request)
    warm.start()
    warm.join()
    before = connections_received()
    for _ in range(20):
        thread = threading.Thread(target=one_request)
        thread.start()
        thread.join()
    # The connection counted beside them is this test's second INFO.
    assert connections_received() - before <= 2


def test_the_pool_is_the_same_only_for_the_same_server_and_options() -> None:
    first = SharedConnectionPool.from_url("redis://127.0.0.1:1/0")
    assert SharedConnectionPool.from_url("redis://127.0.0.1:1/0") is first
    assert SharedConnectionPool.from_url("redis://127.0.0.1:1/1") is not first
    assert SharedConnectionPool.from_url("redis://127.0.0.1:1/0", socket_timeout=2) is not first
