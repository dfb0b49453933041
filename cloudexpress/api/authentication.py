"""Authentication classes shared by the API."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication
from rest_framework.request import Request


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication, answering 401 (not 403) when absent.

    DRF turns "not authenticated" into 403 unless the first authentication
    class names a challenge; API clients need the 401 to know they must sign
    in rather than that they lack a permission.
    """

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class SessionAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describe the session cookie in the OpenAPI schema."""

    target_class = SessionAuthentication
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}
