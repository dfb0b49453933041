"""
The one place that says which address a request came from.

Everything that records or limits by address (lockout, throttles, allauth,
the audit trail, security events) calls ``client_ip``. With
``TRUSTED_PROXY_COUNT = n`` the app sits behind n proxies, each of which
appends the address it saw to ``X-Forwarded-For``; the client is therefore the
n-th entry from the right of that header followed by ``REMOTE_ADDR``. Entries
further left were written by the client and are never believed, so a forged
header cannot change the result.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

UNKNOWN_IP = "0.0.0.0"  # noqa: S104  # nosec B104 - a placeholder value, never bound


def _normalise(value: str) -> str | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1 and "." in value:  # v4:port
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)


def client_ip(request: HttpRequest) -> str:
    """Return the client address of ``request`` as the trusted proxies saw it."""
    cached = getattr(request, "_cx_client_ip", None)
    if cached:
        return str(cached)

    remote = _normalise(request.META.get("REMOTE_ADDR", "")) or UNKNOWN_IP
    trusted = max(int(getattr(settings, "TRUSTED_PROXY_COUNT", 0)), 0)
    result = remote
    if trusted:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop for hop in forwarded.split(",") if hop.strip()] + [remote]
        # hops[-1] is the last proxy itself; each trusted proxy vouches for
        # the hop on its left.
        index = len(hops) - 1 - trusted
        if index >= 0:
            result = _normalise(hops[index]) or remote
        else:
            # Fewer hops than proxies: a proxy was bypassed or misconfigured.
            # The leftmost hop is the furthest one any proxy vouched for.
            result = _normalise(hops[0]) or remote

    request._cx_client_ip = result  # type: ignore[attr-defined]
    return result


def client_ip_for_axes(request: HttpRequest, *args: object, **kwargs: object) -> str:
    """Adapter with the signature django-axes calls ``AXES_CLIENT_IP_CALLABLE`` with."""
    return client_ip(request)
