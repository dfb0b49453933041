"""Refuse requests from addresses that containment (or an admin) blocked."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from audit.detection import blocklist
from cloudexpress.api.exceptions import error_body
from cloudexpress.clientip import client_ip

# Probes must answer even while an address range is blocked.
_EXEMPT = ("/healthz", "/readyz")


class BlockedAddressMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(_EXEMPT) and blocklist.is_blocked(client_ip(request)):
            # TODO(detection-blocked-events): record access.ip_denied for
            # blocked requests, rate-limited per address so a flood of
            # refused requests cannot flood the event table.
            if request.path.startswith("/api/"):
                return JsonResponse(
                    error_body("address_blocked", "Requests from this address are blocked."),
                    status=403,
                )
            return HttpResponse(
                "Requests from this address are blocked.\n", status=403, content_type="text/plain"
            )
        return self.get_response(request)
