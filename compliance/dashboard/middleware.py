"""Every page and file an auditor reads leaves a security event.

The evidence room, the reports and the SOC 2 API record their reads with a
subject of their own (a control, a pack). Everything else an auditor can
open (the dashboard, gaps, governance registers, the audit trail, any API
list) is recorded here, once per request, so the trail of what an auditor
saw has no holes where a view forgot to record.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from accounts.authorization import access_snapshot_loaded, user_is_auditor
from audit.models import SecurityEvent
from audit.services import read_recorded_in_request
from compliance.dashboard.evidence import evidence_access_record

# A page's period is part of what was seen; other parameters (a search for a
# person's address, say) are named but their values are not kept.
PERIOD_PARAMETERS = ("start", "end", "from", "to", "period_start", "period_end")
NOT_READS = ("/static/", "/healthz", "/readyz", "/favicon.ico")
# Polled by the pack page's script while a pack builds: the page itself was
# recorded, and its download will be.
PACK_STATUS_POLL = re.compile(r"^/reports/packs/[0-9a-f-]{36}/status$")


def _is_read(request: HttpRequest, response: HttpResponse) -> bool:
    return (
        request.method in ("GET", "HEAD")
        and 200 <= response.status_code < 300
        and not request.path.startswith(NOT_READS)
        and not PACK_STATUS_POLL.match(request.path)
    )


class AuditorReadsMiddleware:
    """Record a read by an auditor that its view did not record itself."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # DRF authenticates inside the view and sets request.user there, so
        # the user is read after the view, not before.
        user: Any = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and _is_read(request, response)
            and not read_recorded_in_request()
            # A page that asked for no permission shows only the user's own
            # things (their profile, their sessions), never evidence; asking
            # costs such a page no query.
            and access_snapshot_loaded(user)
            and user_is_auditor(user)
        ):
            downloaded = "attachment" in response.get("Content-Disposition", "")
            event_type = (
                SecurityEvent.Type.EVIDENCE_DOWNLOADED
                if downloaded
                else SecurityEvent.Type.EVIDENCE_VIEWED
            )
            evidence_access_record(user=user, event_type=event_type, subject=_subject(request))
        return response


def _subject(request: HttpRequest) -> str:
    parts = []
    for name in sorted(request.GET):
        value = request.GET.get(name, "")
        parts.append(f"{name}={value[:32]}" if name in PERIOD_PARAMETERS else name)
    query = "&".join(parts)
    return f"page:{request.path[:300]}" + (f"?{query[:200]}" if query else "")
