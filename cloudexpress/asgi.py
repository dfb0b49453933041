"""The ASGI entry point: Django's pages over HTTP, the dashboard's live
updates over WebSocket (signed-in users only, from this site's own origin)."""

import os

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.http import HttpRequest, HttpResponseBase

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloudexpress.settings")


class SyncChainASGIHandler(ASGIHandler):
    """Django's ASGI handler with the middleware chain and the view run in
    synchronous mode, on one thread, in one hop from the event loop.

    Every view and most middleware here are synchronous. Django's own
    handler builds the chain in async mode and crosses between the event
    loop and a thread at each change of mode, and at each ``process_request``
    of a middleware written with ``MiddlewareMixin``: measured on the
    dashboard, that was half of a request's CPU (tests/bench/
    bench_dashboard_load.py). Reading the body and sending the response stay
    on the event loop, as in Django's handler.
    """

    def __init__(self) -> None:
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


# Django must be set up before anything imports models (the consumers do).
django.setup(set_prefix=False)
django_application = SyncChainASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from cloudexpress.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        # The origin check refuses a page on another site opening a socket
        # with the user's cookie (cross-site WebSocket hijacking).
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
