"""The ASGI entry point: Django's pages over HTTP, the dashboard's live
updates over WebSocket (signed-in users only, from this site's own origin)."""

import asyncio
import os
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import cast

import django
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloudexpress.settings")

# How much of a synchronous stream one hop to the request's thread reads.
STREAM_BATCH_BYTES = 256 * 1024


async def stream_in_batches(parts: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Read a synchronous stream a batch at a time on the request's thread
    (where its database cursor lives), yielding each batch to the loop.

    Django's handler turns a synchronous stream into a list before sending
    the first byte: a CSV export of a million audit rows, or an evidence file,
    would sit whole in the worker's memory. Here at most one batch does, and
    the client's pace holds back the reading (the server's send waits while
    its buffer is full)."""

    def take() -> list[bytes]:
        batch: list[bytes] = []
        size = 0
        for part in parts:
            batch.append(part)
            size += len(part)
            if size >= STREAM_BATCH_BYTES:
                break
        return batch

    while batch := await sync_to_async(take, thread_sensitive=True)():
        yield b"".join(batch)


class SyncChainASGIHandler(ASGIHandler):
    """Django's ASGI handler with the middleware chain and the view run in
    synchronous mode, on one thread, in one hop from the event loop.

    Every view and most middleware here are synchronous. Django's own
    handler builds the chain in async mode and crosses between the event
    loop and a thread at each change of mode, and at each ``process_request``
    of a middleware written with ``MiddlewareMixin``: measured on the
    dashboard, that was half of a request's CPU (tests/bench/
    bench_dashboard_load.py). Reading the body and sending the response stay
    on the event loop, as in Django's handler, except that a synchronous
    stream is sent batch by batch (``stream_in_batches``) instead of whole.
    """

    def __init__(self) -> None:
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.slots_per_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Semaphore
        ] = weakref.WeakKeyDictionary()

    def _slots(self) -> asyncio.Semaphore | None:
        """The request slots of the running loop (``ASGI_REQUEST_SLOTS``), or
        None when unlimited. A semaphore belongs to one loop: a worker has
        one, the tests start several."""
        if not settings.ASGI_REQUEST_SLOTS:
            return None
        loop = asyncio.get_running_loop()
        slots = self.slots_per_loop.get(loop)
        if slots is None:
            slots = self.slots_per_loop[loop] = asyncio.Semaphore(settings.ASGI_REQUEST_SLOTS)
        return slots

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        run = sync_to_async(self.get_response, thread_sensitive=True)
        slots = self._slots()
        if slots is None:
            response = await run(request)
        else:
            # Waiting here costs nothing but a place in line; waiting inside
            # the view for a pooled connection ends in a 500 after its timeout.
            async with slots:
                response = await run(request)
        if isinstance(response, StreamingHttpResponse) and not response.is_async:
            # The stream's own closers (a generator's, a file's) stay with
            # the response, which Django closes after sending.
            parts = cast(Iterator[bytes], response.streaming_content)
            response.streaming_content = stream_in_batches(parts)
        return response


# Django must be set up before anything imports models (the consumers do).
django.setup(set_prefix=False)
django_application = SyncChainASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from cloudexpress.routing import websocket_urlpatterns  # noqa: E402
from cloudexpress.wsorigin import SameOriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        # The origin check refuses a page of any other origin (another site,
        # or another port or scheme of this host) opening a socket with the
        # user's cookie: cross-site WebSocket hijacking.
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
