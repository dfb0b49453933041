"""Response headers that Django's SecurityMiddleware does not set."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        if (
            request.path.startswith("/api/")
            or getattr(request, "user", None)
            and (request.user.is_authenticated)
        ):
            # Pages and API answers for a signed-in person are never cached
            # by a shared cache or the browser's back button.
            response.headers.setdefault("Cache-Control", "no-store")
        return response
