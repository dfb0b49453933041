"""Pages for compliance officers and auditors: the audit log and the
security event list, their detail pages and CSV exports."""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from audit import selectors
from audit.forms import AuditLogFilterForm, SecurityEventFilterForm
from audit.models import AuditLogEntry, SecurityEvent
from audit.services import permission_denied_record, security_event_record

logger = logging.getLogger(__name__)

PAGE_SIZE = 50

View = Callable[..., HttpResponseBase]


def _requires(permission: str) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not selectors.audit_access_allowed(request.user, permission):
                permission_denied_record(
                    user=request.user, permission=permission, path=request.path
                )
                return render(
                    request, "errors/error.html", {"status": 403, "title": "Forbidden"}, status=403
                )
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def _querystring(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_response(rows: Iterator[list[str]], filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return redirect("audit:log")


@require_GET
@_requires(selectors.AUDIT_LOG_VIEW)
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditLogFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    page = Paginator(selectors.audit_entries_filtered(filters), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {"form": form, "page": page, "querystring": _querystring(request)}
    return render(request, "audit/log_list.html", context)


@require_GET
@_requires(selectors.AUDIT_LOG_VIEW)
def audit_log_entry(request: HttpRequest, seq: int) -> HttpResponse:
    entry: AuditLogEntry = get_object_or_404(
        AuditLogEntry.objects.select_related("actor", "content_type"), seq=seq
    )
    return render(request, "audit/log_detail.html", {"entry": entry})


@require_GET
@_requires(selectors.AUDIT_LOG_VIEW)
def audit_log_export(request: HttpRequest) -> HttpResponseBase:
    form = AuditLogFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    security_event_record(
        event_type=SecurityEvent.Type.DATA_EXPORTED,
        detail={"export": "audit_log.csv", "filters": sorted(request.GET)},
    )
    entries = selectors.audit_entries_filtered(filters)
    return _csv_response(selectors.audit_entries_csv_rows(entries), "audit-log.csv")


@require_GET
@_requires(selectors.SECURITY_EVENTS_VIEW)
def security_events(request: HttpRequest) -> HttpResponse:
    form = SecurityEventFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    page = Paginator(selectors.security_events_filtered(filters), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {"form": form, "page": page, "querystring": _querystring(request)}
    return render(request, "audit/event_list.html", context)


@require_GET
@_requires(selectors.SECURITY_EVENTS_VIEW)
def security_event(request: HttpRequest, public_id: str) -> HttpResponse:
    event: SecurityEvent = get_object_or_404(
        SecurityEvent.objects.select_related("actor", "target_user", "organization"),
        public_id=public_id,
    )
    return render(request, "audit/event_detail.html", {"event": event})


@require_GET
@_requires(selectors.SECURITY_EVENTS_VIEW)
def security_events_export(request: HttpRequest) -> HttpResponseBase:
    form = SecurityEventFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    security_event_record(
        event_type=SecurityEvent.Type.DATA_EXPORTED,
        detail={"export": "security_events.csv", "filters": sorted(request.GET)},
    )
    events = selectors.security_events_filtered(filters)
    return _csv_response(selectors.security_events_csv_rows(events), "security-events.csv")
