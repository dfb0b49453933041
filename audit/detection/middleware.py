"""Refuse requests from addresses that containment (or an admin) blocked."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from audit.detection import blocklist, refusals
from cloudexpress.api.exceptions import error_body
from cloudexpress.clientip import client_ip

# Probes must answer even while an address range is blocked.
_EXEMPT = ("/healthz", "/readyz")


class BlockedAddressMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(_EXEMPT):
            return self.get_response(request)
        ip = client_ip(request)
        network = blocklist.blocking_network(ip)
        if network is not None and ip:
            is_api = request.path.startswith("/api/")
            # Rate-limited per address and window (see refusals).
            refusals.blocked_refusal_record(
                ip=ip, network=network, channel="api" if is_api else "web"
            )
            if is_api:
                return JsonResponse(
                    error_body("address_blocked", "Requests from this address are blocked."),
                    status=403,
                )
            return HttpResponse(
                "Requests from this address are blocked.\n", status=403, content_type="text/plain"
            )
        return self.get_response(request)
