"""The executive dashboard and the pages its figures link to."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.authorization import user_has_perm
from audit.selectors import SECURITY_EVENTS_VIEW
from compliance.dashboard import selectors
from compliance.dashboard.evidence import evidence_viewed_record
from compliance.selectors import latest_full_run

VIEW_PERMISSION = "controls.view"
EXPORT_PERMISSION = "reports.export"


def controls_view_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Require controls.view in the operator organization (403 otherwise)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not user_has_perm(request.user, VIEW_PERMISSION):
            raise PermissionDenied(f"You do not hold the permission {VIEW_PERMISSION!r}.")
        return view(request, *args, **kwargs)

    return wrapper


@controls_view_required
def dashboard(request: HttpRequest) -> HttpResponse:
    context = {
        "body": selectors.dashboard_body_cached(),
        # The cached body is the same for everyone; the export link is not.
        "may_export": user_has_perm(request.user, EXPORT_PERMISSION, record_denial=False),
    }
    return render(request, "dashboard/index.html", context)


@controls_view_required
def controls(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status and status not in selectors.CONTROL_STATUSES:
        raise Http404("unknown status")
    filters = {
        "status": status,
        "category": request.GET.get("category", "")[:10],
        "criterion": request.GET.get("criterion", "")[:10],
    }
    run = latest_full_run()
    rows = selectors.control_list(run, **filters)
    return render(request, "dashboard/controls.html", {"rows": rows, "run": run, **filters})


@controls_view_required
def control_detail(request: HttpRequest, code: str) -> HttpResponse:
    context = selectors.control_detail(code)
    if context is None:
        raise Http404("no such control")
    # The page shows the checks' evidence and the attestations with their
    # hashes, as the evidence room does, so reading it is recorded the same way.
    evidence_viewed_record(request.user, f"control:{code}", None)
    from compliance.dashboard.attestation_views import AttestationForm, control_page_permissions

    context.update(control_page_permissions(request.user), attest_form=AttestationForm())
    return render(request, "dashboard/control_detail.html", context)


@controls_view_required
def gaps(request: HttpRequest) -> HttpResponse:
    run = latest_full_run()
    # The dashboard's overdue figure links here with ?overdue=1 and its
    # per-owner figures with ?owner= (and &overdue=1), so each lists exactly
    # the items it counted.
    owner = request.GET.get("owner", "")[:254]
    overdue_only = request.GET.get("overdue") == "1"
    items = [
        row
        for row in selectors.action_items_open()
        if (not owner or row["owner"] == owner) and (not overdue_only or row["overdue"])
    ]
    context = {
        "run": run,
        "groups": selectors.gaps_by_criterion(run),
        "items": items,
        "overdue": sum(1 for row in items if row["overdue"]),
        "owner": owner,
        "overdue_only": overdue_only,
    }
    return render(request, "dashboard/gaps.html", context)


@controls_view_required
def heatmap_cell(request: HttpRequest, likelihood: int, impact: int) -> HttpResponse:
    if not (1 <= likelihood <= 5 and 1 <= impact <= 5):
        raise Http404("no such cell")
    items = selectors.heatmap_cell_items(latest_full_run(), likelihood, impact)
    context = {"likelihood": likelihood, "impact": impact, **items}
    return render(request, "dashboard/heatmap_cell.html", context)


@controls_view_required
def alerts(request: HttpRequest) -> HttpResponse:
    context = {
        "alerts": selectors.alerts_active(),
        # Detection's alert pages need their own permission: a viewer
        # without it is offered no link that would only answer 403.
        "may_open_alerts": user_has_perm(request.user, SECURITY_EVENTS_VIEW, record_denial=False),
    }
    return render(request, "dashboard/alerts.html", context)


@controls_view_required
def incidents(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in ("", "resolved"):
        raise Http404("unknown status")
    context = {
        "status": status,
        "kpi": selectors.incident_response_kpi(),
        "rows": selectors.incidents_for_kpi(resolved_only=status == "resolved"),
    }
    return render(request, "dashboard/incidents.html", context)


@controls_view_required
def findings(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "closed")
    if status not in selectors.FINDING_STATUSES:
        raise Http404("unknown status")
    rows = selectors.findings_for_kpi(status=status)
    days = [row["days"] for row in rows if row["days"] is not None]
    context = {
        "status": status,
        "rows": rows,
        # Recomputed from the rows listed, so a reader can check the figure.
        "mean_days": round(sum(days) / len(days), 1) if days else None,
    }
    return render(request, "dashboard/findings.html", context)
