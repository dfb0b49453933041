"""Response headers that Django's SecurityMiddleware does not set, request
size limits, and the deploy check of the internal links' TLS."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


class RequestSizeLimitMiddleware:
    """Refuse a request whose declared body is larger than MAX_UPLOAD_BYTES.

    Django limits form and JSON bodies it reads into memory
    (DATA_UPLOAD_MAX_MEMORY_SIZE), but streams file uploads to disk without a
    cap; this refuses them before a byte is read.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_UPLOAD_BYTES:
            if request.path.startswith("/api/"):
                detail = f"The request body is larger than {settings.MAX_UPLOAD_BYTES} bytes."
                return JsonResponse(
                    {"code": "payload_too_large", "detail": detail, "fields": {}}, status=413
                )
            # A person who chose too large a file gets the portal's error
            # page naming the limit, not a bare line of text.
            context = {
                "status": 413,
                "title": "File too large",
                "detail": f"Uploads are limited to {upload_limit_label()}: "
                "nothing was received. Go back and choose a smaller file.",
            }
            return render(request, "errors/error.html", context, status=413)
        return self.get_response(request)


def upload_limit_label() -> str:
    """Return the largest request the portal takes, for people (``10 MiB``)."""
    size: int = settings.MAX_UPLOAD_BYTES
    mebibyte = 1024 * 1024
    if size % mebibyte == 0:
        return f"{size // mebibyte} MiB"
    return f"{size:,} bytes"


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


@register(Tags.security, deploy=True)
def internal_links_check(app_configs: object = None, **kwargs: object) -> list[Warning]:
    """Warn when production runs without verified TLS to PostgreSQL and
    Redis, which only the INTERNAL_TLS_OPTIONAL opt-out allows."""
    if not settings.PRODUCTION:
        return []
    from cloudexpress.settings import internal_tls_problems

    urls = dict.fromkeys([settings.REDIS_URL, str(settings.CELERY_BROKER_URL)])
    problems = sorted(
        {
            p
            for url in urls
            for p in internal_tls_problems(dict(settings.DATABASES["default"]), url)
        }
    )
    if not problems:
        return []
    return [
        Warning(
            "Internal links are not verified TLS: " + "; ".join(problems),
            hint="Use sslmode=verify-full and rediss:// with a password; "
            "INTERNAL_TLS_OPTIONAL is for loopback test servers only.",
            id="cloudexpress.W001",
        )
    ]


# A certificate this close to its end fails the deploy check, so a renewal
# is done while there is time to roll it out.
CERTIFICATE_WARNING_DAYS = 30


@register(Tags.security, deploy=True)
def certificates_expiry_check(app_configs: object = None, **kwargs: object) -> list[Error]:
    """Fail when a tracked certificate (TLS_CERTIFICATES) expires within 30
    days or cannot be read."""
    from cloudexpress.certificates import certificates_expiring

    return [
        Error(
            f"The certificate {status.path} "
            + (
                f"cannot be read ({status.error})"
                if status.error
                else f"expires on {status.not_after:%Y-%m-%d}"
            )
            + f", within {CERTIFICATE_WARNING_DAYS} days.",
            hint="Renew it, or move to the backup key whose pin is published.",
            id="cloudexpress.E002",
        )
        for status in certificates_expiring(CERTIFICATE_WARNING_DAYS)
    ]
