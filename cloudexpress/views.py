"""Site-wide pages: home, contacts, health, readiness, metrics, the operations
page, error pages."""

from __future__ import annotations

import hmac
import ipaddress
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from cloudexpress.api.exceptions import json_error
from cloudexpress.clientip import client_ip

logger = logging.getLogger(__name__)

# Operators and admins of the operator organization run the platform.
OPERATIONS_PERMISSION = "settings.manage"


def home(request: HttpRequest) -> HttpResponse:
    """Platform-wide figures for the operator's people; each tenant's members
    see their own organizations only; visitors see how to sign in."""
    from accounts.models import Membership
    from compliance import selectors

    context: dict[str, object] = {"summary": None, "memberships": []}
    user = request.user
    if user.is_authenticated:
        memberships = list(
            Membership.objects.filter(user=user, status=Membership.Status.ACTIVE)
            .select_related("organization", "role")
            .order_by("organization__name")
        )
        context["memberships"] = memberships
        if any(m.organization.is_operator for m in memberships):
            context["summary"] = selectors.home_summary()
    return render(request, "home.html", context)


def contacts(request: HttpRequest) -> HttpResponse:
    return render(request, "contacts.html")


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_cache() -> str:
    cache.set("readyz", "1", 10)
    return "ok" if cache.get("readyz") == "1" else "unreadable"


def _check_broker() -> str:
    from cloudexpress.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    for name, probe in (
        ("database", _check_database),
        ("cache", _check_cache),
        ("broker", _check_broker),
    ):
        try:
            checks[name] = probe()
        except Exception as exc:  # a probe that fails is the answer, not a crash
            logger.warning("readyz.failed", extra={"component": name, "error": type(exc).__name__})
            checks[name] = "unreachable"
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


def _metrics_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        if hmac.compare_digest(header[len("Bearer ") :].encode(), token.encode()):
            return True
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    for network in settings.METRICS_ALLOWED_NETWORKS:
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not _metrics_allowed(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    from django_prometheus.exports import ExportToDjangoView

    from cloudexpress.metrics import register_collectors

    register_collectors()
    return ExportToDjangoView(request)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def error_400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return json_error(request, 400, "The request could not be understood.")
    return render(
        request, "errors/error.html", {"status": 400, "title": "Bad request"}, status=400
    )


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return json_error(request, 403, "You do not have permission to do this.")
    return render(request, "errors/error.html", {"status": 403, "title": "Forbidden"}, status=403)


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return json_error(request, 404, "No API endpoint at this path.")
    return render(request, "errors/error.html", {"status": 404, "title": "Not found"}, status=404)


def error_500(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return json_error(request, 500, "The server could not complete the request.")
    return render(
        request, "errors/error.html", {"status": 500, "title": "Server error"}, status=500
    )


@never_cache
@require_GET
def operations(request: HttpRequest) -> HttpResponse:
    """Background job runs, the beat schedule, queue depth and capacity."""
    from django.contrib.auth.views import redirect_to_login
    from django.core.exceptions import PermissionDenied

    from accounts.authorization import user_has_perm
    from cloudexpress.operations import operations_overview

    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not user_has_perm(request.user, OPERATIONS_PERMISSION):
        raise PermissionDenied(f"You do not hold the permission {OPERATIONS_PERMISSION!r}.")
    return render(request, "cloudexpress/operations.html", operations_overview())
