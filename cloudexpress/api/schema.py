"""How the API's authentication classes appear in the OpenAPI schema.

drf-spectacular matches its built-in descriptions by exact class, so the
project's subclasses are described here. Imported by the URL configuration.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class PortalSessionScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.auth.api.SessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}


class PortalJWTScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.auth.api.JWTAuthentication"
    name = "jwtAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


class PortalApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.auth.api.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`ApiKey cx_<prefix>_<secret>`",
        }
