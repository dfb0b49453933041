"""The report API: the pack as JSON or PDF, from the same ReportData."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from cloudexpress.api.exceptions import ServiceError
from compliance.dashboard.evidence import evidence_downloaded_record, evidence_viewed_record
from compliance.models import ReportPack
from compliance.reports import periods, services
from compliance.reports.access import CanExportReports
from compliance.reports.data import ReportDataUnavailable, report_data_get
from compliance.reports.render import expected_pages, pack_render
from compliance.reports.renderers import PDFErrorsAsJSONMixin, PDFRenderer


class PeriodQuery(serializers.Serializer):
    """A report period from ``?from=&to=``, checked as the pages check it.

    The fields keep the names the client sent, so a refusal's ``fields``
    say ``from`` and ``to``. A missing end is today and a missing start the
    default length before the end.
    """

    # ``from`` is a keyword, hence the renaming in get_fields().
    from_ = serializers.DateField(required=False)
    to = serializers.DateField(required=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # ``?from=`` with no value means no first day, as the pages read it.
        given = {key: value for key, value in data.items() if value != ""}
        internal: dict[str, Any] = super().to_internal_value(given)
        return internal

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = periods.report_period_fill(attrs.get("from"), attrs.get("to"))
        problems = periods.report_period_problems(start, end)
        if problems and ("from" in attrs or "to" in attrs):
            names = {periods.START: "from", periods.END: "to"}
            raise serializers.ValidationError(
                {names[end_name]: messages for end_name, messages in problems.items()}
            )
        if problems:
            # The client asked for no period: there is nothing to report yet.
            detail = periods.report_period_problems_text(problems)
            raise ServiceError(detail, code="no_report", status_code=404)
        return {**attrs, "from": start, "to": end}


class PackQuery(PeriodQuery):
    kind = serializers.ChoiceField(
        choices=ReportPack.Kind.choices, default=ReportPack.Kind.CONTROL_STATUS
    )


PERIOD_PARAMETERS = [
    OpenApiParameter(
        "from", OpenApiTypes.DATE, description="first day (default: 89 days before `to`)"
    ),
    OpenApiParameter(
        "to",
        OpenApiTypes.DATE,
        description="last day, today or earlier (default: today); the period must hold "
        "a full compliance run",
    ),
]
ERROR_RESPONSES = {
    (400, "application/json"): OpenApiTypes.OBJECT,
    (404, "application/json"): OpenApiTypes.OBJECT,
}


class ReportPackAPIView(PDFErrorsAsJSONMixin, APIView):
    """The report of a period, as JSON or as the signed PDF pack."""

    permission_classes = [CanExportReports]
    renderer_classes = [JSONRenderer, PDFRenderer]

    @extend_schema(
        operation_id="compliance_reports_pack",
        parameters=[
            OpenApiParameter("format", str, enum=["json", "pdf"]),
            OpenApiParameter("kind", str, enum=list(ReportPack.Kind.values)),
            *PERIOD_PARAMETERS,
        ],
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "application/pdf"): OpenApiTypes.BINARY,
            # A pack longer than REPORTS_SYNC_MAX_PAGES, queued for the task.
            (202, "application/json"): OpenApiTypes.OBJECT,
            **ERROR_RESPONSES,
        },
    )
    def get(self, request: Request) -> Response:
        query = PackQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        start: date = query.validated_data["from"]
        end: date = query.validated_data["to"]
        kind: str = query.validated_data["kind"]

        try:
            data = report_data_get(period_start=start, period_end=end)
        except ReportDataUnavailable as exc:
            raise ServiceError(str(exc), code="no_report", status_code=404) from exc

        if isinstance(request.accepted_renderer, PDFRenderer):
            assert isinstance(request.user, User)  # CanExportReports refused anyone else
            if expected_pages(data) > settings.REPORTS_SYNC_MAX_PAGES:
                return self._queued(request, kind=kind, start=start, end=end)
            with transaction.atomic():
                pack = ReportPack.objects.create(
                    kind=kind,
                    period_start=start,
                    period_end=end,
                    requested_by=request.user,
                    status=ReportPack.Status.RUNNING,
                )
                rendered = pack_render(data, kind, pack_id=str(pack.public_id))
                services.report_pack_record(
                    data=data,
                    kind=kind,
                    pdf=rendered.pdf,
                    page_count=rendered.page_count,
                    pack=pack,
                )
            evidence_downloaded_record(request.user, f"reports:pack:{pack.public_id}")
            response = Response(rendered.pdf)
            response["Content-Disposition"] = f'attachment; filename="{pack.filename}"'
            response["X-Pack-Id"] = str(pack.public_id)
            return response
        evidence_viewed_record(request.user, f"reports:api:{kind}", (start, end))
        return Response({"kind": kind, **data.as_json()})

    def _queued(self, request: Request, *, kind: str, start: date, end: date) -> Response:
        """A large pack takes tens of seconds to lay out: queue it for the
        Celery task, as the pages do, and answer 202 with where to follow it.
        The answer is JSON, since there is no PDF yet."""
        assert isinstance(request.user, User)
        with transaction.atomic():
            pack = services.report_pack_request(
                kind=kind, period_start=start, period_end=end, requested_by=request.user
            )
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = "application/json"
        status_url = reverse("reports:pack-status", args=[pack.public_id])
        response = Response(
            {
                "pack": str(pack.public_id),
                "status": pack.status,
                "status_url": request.build_absolute_uri(status_url),
                "page_url": request.build_absolute_uri(
                    reverse("reports:pack", args=[pack.public_id])
                ),
            },
            status=202,
        )
        response["Location"] = status_url
        return response
