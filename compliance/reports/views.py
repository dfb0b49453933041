"""Report pages: the overview with charts, pack builds, downloads, verification.

Every page that shows report content and every download is recorded as an
evidence-room security event (viewed or downloaded, with its subject), as
auditors' access must be; the status poll of a building pack shows nothing
and is not recorded.
"""

from __future__ import annotations

from urllib.parse import urlencode
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from compliance import charts
from compliance.dashboard.evidence import evidence_downloaded_record, evidence_viewed_record
from compliance.models import ReportPack
from compliance.reports import exports, selectors, services
from compliance.reports.access import reports_required
from compliance.reports.data import ReportDataUnavailable, report_data_get
from compliance.reports.forms import PackRequestForm, PackVerifyForm, ReportPeriodForm
from compliance.reports.periods import report_period_default


def _pack(public_id: UUID) -> ReportPack:
    return get_object_or_404(
        ReportPack.objects.select_related("requested_by"), public_id=public_id
    )


@login_required
@reports_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    period_form = ReportPeriodForm(request.GET)
    period = period_form.period()
    context: dict[str, object] = {"period_form": period_form}
    if period is None:
        return render(request, "reports/overview.html", context)
    start, end = period
    try:
        data = report_data_get(period_start=start, period_end=end)
    except ReportDataUnavailable as exc:
        context["unavailable"] = str(exc)
        return render(request, "reports/overview.html", context)
    evidence_viewed_record(request.user, "reports:overview", (start, end))
    context |= {
        "data": data,
        "charts": [
            charts.score_trend_chart(data.history),
            charts.category_bars_chart(data.categories),
            charts.risk_heatmap_chart(data.controls, data.security),
        ],
        "tables": exports.TABLES,
        "period_query": urlencode({"start": start.isoformat(), "end": end.isoformat()}),
    }
    return render(request, "reports/overview.html", context)


@login_required
@reports_required
@require_GET
def export(request: HttpRequest, table: str, fmt: str) -> HttpResponse:
    if table not in exports.TABLES or fmt not in {"csv", "json"}:
        raise Http404("No such export.")
    period_form = ReportPeriodForm(request.GET)
    period = period_form.period()
    if period is None:
        # A download link with a bad period: the overview shows the fields
        # with their messages, and nothing is downloaded.
        return render(request, "reports/overview.html", {"period_form": period_form}, status=400)
    start, end = period
    try:
        data = report_data_get(period_start=start, period_end=end)
    except ReportDataUnavailable as exc:
        raise Http404(str(exc)) from exc
    rows = exports.report_table(data, table)
    evidence_downloaded_record(request.user, f"reports:export:{table}.{fmt}")
    if fmt == "csv":
        body, content_type = exports.table_csv(data, rows), "text/csv; charset=utf-8"
    else:
        body, content_type = exports.table_json(data, rows), "application/json"
    response = HttpResponse(body, content_type=content_type)
    filename = f"cloudexpress-{table}-{start.isoformat()}-to-{end.isoformat()}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@reports_required
@require_http_methods(["GET", "POST"])
def packs(request: HttpRequest) -> HttpResponse:
    start, end = report_period_default()
    form = PackRequestForm(
        request.POST or None,
        initial={"kind": ReportPack.Kind.CONTROL_STATUS, "period_start": start, "period_end": end},
    )
    if request.method == "POST" and form.is_valid():
        pack = services.report_pack_request(
            kind=form.cleaned_data["kind"],
            period_start=form.cleaned_data["period_start"],
            period_end=form.cleaned_data["period_end"],
            requested_by=request.user,  # type: ignore[arg-type]
        )
        return redirect("reports:pack", public_id=pack.public_id)
    evidence_viewed_record(request.user, "reports:packs", None)
    context = {"form": form, "packs": selectors.report_packs_recent()}
    return render(request, "reports/packs.html", context)


@login_required
@reports_required
@require_GET
def pack_detail(request: HttpRequest, public_id: UUID) -> HttpResponse:
    pack = _pack(public_id)
    evidence_viewed_record(request.user, f"reports:pack:{pack.public_id}", None)
    return render(request, "reports/pack.html", {"pack": pack})


@login_required
@reports_required
@require_GET
def pack_status(request: HttpRequest, public_id: UUID) -> JsonResponse:
    pack = _pack(public_id)
    return JsonResponse(
        {
            "status": pack.status,
            "status_label": pack.get_status_display(),
            "progress": pack.progress,
            "step": pack.progress_step,
            "finished": pack.is_finished,
            "download_url": (
                reverse("reports:pack-download", args=[pack.public_id])
                if pack.status == ReportPack.Status.DONE
                else None
            ),
        }
    )


@login_required
@reports_required
@require_GET
def pack_download(request: HttpRequest, public_id: UUID) -> FileResponse:
    pack = _pack(public_id)
    if pack.status != ReportPack.Status.DONE or not pack.file:
        raise Http404("The pack is not built yet.")
    evidence_downloaded_record(request.user, f"reports:pack:{pack.public_id}")
    return FileResponse(
        pack.file.open("rb"),
        as_attachment=True,
        filename=pack.filename,
        content_type="application/pdf",
    )


@login_required
@reports_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    form = PackVerifyForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        result = services.report_pack_verify(content=upload.read())
    return render(request, "reports/verify.html", {"form": form, "result": result})
