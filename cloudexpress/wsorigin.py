"""The WebSocket origin check: a handshake is let through only from the
portal's own origin or one listed in CSRF_TRUSTED_ORIGINS.

A browser sends the user's cookie with a WebSocket handshake to any site,
whatever page opened it, and the handshake is not bound by the same-origin
policy: the Origin header is the only thing that tells the portal's own page
from another site's (cross-site WebSocket hijacking). An origin is a scheme,
a host and a port, and all three must match. channels' own
AllowedHostsOriginValidator compares the host with ALLOWED_HOSTS only, so a
page on another port of the same host (another origin, possibly another
program) was let in.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

logger = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]


def scope_is_secure(scope: dict[str, Any]) -> bool:
    """Whether the handshake came over TLS, decided as Django decides it for
    a page: the socket's own scheme, or the proxy's header named by
    SECURE_PROXY_SSL_HEADER. Behind the TLS proxy the socket itself is plain
    ``ws`` (the workers do not rewrite the scope from proxy headers: the
    client address is the portal's own business, ``cloudexpress.clientip``),
    so without the header no production socket would count as secure."""
    if scope.get("scheme") == "wss":
        return True
    if not settings.SECURE_PROXY_SSL_HEADER:
        return False
    meta_name, expected = settings.SECURE_PROXY_SSL_HEADER
    header = meta_name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin1")
    values = [value for name, value in scope.get("headers", []) if name == header]
    return len(values) == 1 and values[0].decode("latin1").strip() == expected


def origin_parse(value: str) -> Origin | None:
    """Return ``(scheme, host, port)`` of an http(s) origin, the port made
    explicit and the host lower-cased, or None for anything else (``null``,
    another scheme, a malformed value)."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.username is not None:
        return None
    return scheme, parts.hostname, port or DEFAULT_PORTS[scheme]


def origin_of_request(scope: dict[str, Any]) -> Origin | None:
    """The origin of the page the handshake claims to come from: https when
    the socket is secure (``scope_is_secure``), and its Host header. None when the
    Host is missing or not in ALLOWED_HOSTS, as Django refuses such a request
    over HTTP."""
    hosts = [value for name, value in scope.get("headers", []) if name == b"host"]
    if len(hosts) != 1:
        return None
    host = hosts[0].decode("latin1")
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    if scope.get("scheme", "ws") not in ("ws", "wss"):
        return None
    page_scheme = "https" if scope_is_secure(scope) else "http"
    return origin_parse(f"{page_scheme}://{host}")


def origin_is_trusted(origin: Origin) -> bool:
    """Whether CSRF_TRUSTED_ORIGINS lists the origin, with Django's meaning of
    a leading ``*.`` (the domain's subdomains)."""
    scheme, host, port = origin
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        wildcard = "://*." in entry
        trusted = origin_parse(entry.replace("://*.", "://", 1) if wildcard else entry)
        if trusted is None or trusted[0] != scheme or trusted[2] != port:
            continue
        if host == trusted[1] or (wildcard and host.endswith("." + trusted[1])):
            return True
    return False


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Whether the handshake's one Origin header is the request's own origin
    or a trusted one. A missing Origin or ``null`` (a sandboxed page, a file)
    is refused: the portal's page always sends its own."""
    values = [value for name, value in scope.get("headers", []) if name == b"origin"]
    if len(values) != 1:
        return False
    origin = origin_parse(values[0].decode("latin1"))
    if origin is None:
        return False
    return origin == origin_of_request(scope) or origin_is_trusted(origin)


class SameOriginValidator:
    """ASGI middleware in front of the WebSocket routes: refuse the handshake
    (HTTP 403) unless ``origin_allowed``."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            raise ValueError("SameOriginValidator guards WebSocket connections only")
        if origin_allowed(scope):
            return await self.application(scope, receive, send)
        logger.warning("websocket.origin_refused", extra={"path": scope.get("path", "")})
        return await WebsocketDenier()(scope, receive, send)
