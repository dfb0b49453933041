"""DRF throttles per user (or address) and endpoint, on the shared cache.

A throttled request is a security event; the 429 carries ``Retry-After`` and
the JSON error body (``cloudexpress.api.exceptions``).
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

from audit.models import SecurityEvent
from audit.services import security_event_record
from cloudexpress.clientip import client_ip


class _EndpointThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        # Read at call time, not import time, so settings changes apply.
        from rest_framework.settings import api_settings

        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def ident_for(self, request: Any) -> str | None:
        raise NotImplementedError

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        ident = self.ident_for(request)
        if ident is None:
            return None
        endpoint = f"{type(view).__module__}.{type(view).__name__}"
        return f"throttle:{self.scope}:{endpoint}:{ident}"

    def throttle_failure(self) -> bool:
        request = getattr(self, "_request", None)
        # One event per client and endpoint a minute: a flood of refused
        # requests must not become a flood of writes.
        if not cache.add(f"throttled-event:{self.key}", 1, 60):
            return False
        security_event_record(
            event_type=SecurityEvent.Type.THROTTLED,
            target_user=getattr(getattr(request, "user", None), "pk", None),
            detail={"scope": self.scope, "path": getattr(request, "path", "")},
        )
        return False

    def allow_request(self, request: Any, view: Any) -> bool:
        self._request = request
        return super().allow_request(request, view)


class UserEndpointThrottle(_EndpointThrottle):
    scope = "user_endpoint"

    def ident_for(self, request: Any) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return f"u{user.pk}"


class AnonEndpointThrottle(_EndpointThrottle):
    scope = "anon_endpoint"

    def ident_for(self, request: Any) -> str | None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return None
        return client_ip(request)


class TokenEndpointThrottle(_EndpointThrottle):
    """Per address on the token endpoints, whoever the credentials name."""

    scope = "token"

    def ident_for(self, request: Any) -> str | None:
        return client_ip(request)
