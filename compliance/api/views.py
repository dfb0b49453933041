"""The SOC 2 API: thin views over the compliance selectors."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from cloudexpress.api.exceptions import ServiceError
from compliance import readiness, selectors
from compliance.dashboard.evidence import evidence_downloaded_record, evidence_viewed_record
from compliance.models import ReportPack
from compliance.reports.access import PERMISSION as EXPORT_PERMISSION
from compliance.reports.access import user_may_export_reports
from compliance.reports.data import ReportDataUnavailable, report_data_get
from compliance.reports.periods import (
    report_period_default,
    report_period_fill,
    report_period_problems,
)
from compliance.reports.render import pack_render
from compliance.reports.renderers import PDFErrorsAsJSONMixin, PDFRenderer
from compliance.reports.services import report_pack_record

MAX_WINDOW_DAYS = 3 * 366


class CanViewControls(BasePermission):
    # Read by the project's API-key check (view_required_permission).
    permission_code = selectors.VIEW_PERMISSION
    message = "You need the controls.view permission in the operator organization."

    def has_permission(self, request: Request, view: Any) -> bool:
        # These views set their own permission classes, so the project-wide
        # API key scope check does not run for them: made here, beside the
        # role the key's user holds.
        from accounts.auth.apikeys import api_key_allows
        from accounts.models import ApiKey

        if isinstance(request.auth, ApiKey) and not api_key_allows(
            request.auth, selectors.VIEW_PERMISSION
        ):
            return False
        return selectors.user_can_view_controls(request.user)


class WindowSerializer(serializers.Serializer):
    # "from" is a keyword in Python, hence the source mapping.
    from_ = serializers.DateField(required=False)
    to = serializers.DateField(required=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = report_period_fill(attrs.get("from"), attrs.get("to"))
        if start > timezone.localdate():
            # Nothing was stored after today, and the readiness days stop there.
            raise serializers.ValidationError({"from": "must be today or earlier"})
        if start > end:
            raise serializers.ValidationError({"from": "must not be after 'to'"})
        if (end - start).days > MAX_WINDOW_DAYS:
            raise serializers.ValidationError(
                {"from": f"the window is over {MAX_WINDOW_DAYS} days"}
            )
        return {"from": start, "to": end}


def _window(request: Request) -> tuple[date, date]:
    serializer = WindowSerializer(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data["from"], serializer.validated_data["to"]


WINDOW_PARAMETERS = [
    OpenApiParameter(
        "from", OpenApiTypes.DATE, description="first day (default: 89 days before `to`)"
    ),
    OpenApiParameter("to", OpenApiTypes.DATE, description="last day (default: today)"),
]


class CoverageSerializer(serializers.Serializer):
    controls = serializers.DictField(child=serializers.IntegerField())
    criteria = serializers.DictField(child=serializers.IntegerField())
    controls_total = serializers.IntegerField()
    criteria_total = serializers.IntegerField()


class StatusSerializer(serializers.Serializer):
    run_id = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField()
    framework_version = serializers.CharField()
    score = serializers.FloatField(allow_null=True, help_text="fraction from 0 to 1")
    score_percent = serializers.FloatField(allow_null=True)
    score_display = serializers.CharField()
    controls_total = serializers.IntegerField()
    controls_passing = serializers.IntegerField()
    checks_total = serializers.IntegerField()
    checks_passing = serializers.IntegerField()
    coverage = CoverageSerializer()
    formula = serializers.CharField()
    formula_version = serializers.IntegerField()


class HistoryEntrySerializer(serializers.Serializer):
    run_id = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    framework_version = serializers.CharField()
    score = serializers.FloatField(allow_null=True)
    score_display = serializers.CharField()
    categories = serializers.DictField(child=serializers.FloatField(allow_null=True))


class HistorySerializer(serializers.Serializer):
    window = serializers.DictField(child=serializers.DateField())
    runs = HistoryEntrySerializer(many=True)


def _no_run() -> ServiceError:
    return ServiceError(
        "No compliance run has completed yet; run `manage.py run_checks`.",
        code="no_run",
        status_code=404,
    )


class ComplianceView(APIView):
    permission_classes = [CanViewControls]


class Soc2StatusView(ComplianceView):
    @extend_schema(
        responses=StatusSerializer,
        operation_id="soc2_status",
        summary="Current SOC 2 score of the latest full run",
    )
    def get(self, request: Request) -> Response:
        run = selectors.latest_full_run()
        if run is None:
            raise _no_run()
        return Response(selectors.run_summary(run))


class Soc2ReportView(PDFErrorsAsJSONMixin, ComplianceView):
    """The latest run's report; ``?format=pdf`` gives its control status pack,
    built by the report provider from the same stored run.

    Both are evidence an auditor reads, so each read and download is recorded
    as an evidence-room security event, as the report pages record theirs.
    """

    renderer_classes = [JSONRenderer, PDFRenderer]

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["json", "pdf"])],
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "application/pdf"): OpenApiTypes.BINARY,
        },
        operation_id="soc2_report",
        summary="Full report of the latest run: scores, controls, results",
    )
    def get(self, request: Request) -> Response:
        # The JSON report is read under controls.view; the PDF is an export,
        # which the report pages and the pack API allow only to holders of
        # reports.export.
        pdf = isinstance(request.accepted_renderer, PDFRenderer)
        if pdf and not user_may_export_reports(request.user):
            raise PermissionDenied(f"The PDF report needs the {EXPORT_PERMISSION} permission.")
        run = selectors.latest_full_run()
        if run is None:
            raise _no_run()
        if pdf:
            # The default report period, as on every page; the run above
            # may be older than it, and a pack says only what its period held.
            start, end = report_period_default()
            problems = report_period_problems(start, end)
            if problems:
                detail = " ".join(
                    message for messages in problems.values() for message in messages
                )
                raise ServiceError(detail, code="no_report", status_code=404)
            try:
                data = report_data_get(period_start=start, period_end=end)
            except ReportDataUnavailable as exc:
                raise ServiceError(str(exc), code="no_report", status_code=404) from exc
            assert isinstance(request.user, User)  # CanViewControls let in no one else
            # Recorded and signed like every pack, so verify_pack knows it.
            with transaction.atomic():
                pack = ReportPack.objects.create(
                    kind=ReportPack.Kind.CONTROL_STATUS,
                    period_start=data.period_start,
                    period_end=data.period_end,
                    requested_by=request.user,
                    status=ReportPack.Status.RUNNING,
                )
                rendered = pack_render(data, pack.kind, pack_id=str(pack.public_id))
                report_pack_record(
                    data=data,
                    kind=pack.kind,
                    pdf=rendered.pdf,
                    page_count=rendered.page_count,
                    pack=pack,
                )
            evidence_downloaded_record(request.user, f"reports:pack:{pack.public_id}")
            response = Response(rendered.pdf)
            response["Content-Disposition"] = f'attachment; filename="{pack.filename}"'
            response["X-Pack-Id"] = str(pack.public_id)
            return response
        evidence_viewed_record(request.user, "api:soc2-report", None)
        return Response(selectors.soc2_report(run))


class Soc2ControlsView(ComplianceView):
    @extend_schema(
        responses=OpenApiTypes.OBJECT,
        operation_id="soc2_controls",
        summary="Controls with their status and the evidence of their checks",
    )
    def get(self, request: Request) -> Response:
        run = selectors.latest_full_run()
        return Response(
            {
                "run_id": run.pk if run else None,
                "controls": selectors.controls_with_status(run, with_evidence=True),
            }
        )


class Soc2ReadinessView(ComplianceView):
    @extend_schema(
        parameters=WINDOW_PARAMETERS,
        responses=OpenApiTypes.OBJECT,
        operation_id="soc2_readiness",
        summary="Type II readiness over an observation window",
    )
    def get(self, request: Request) -> Response:
        start, end = _window(request)
        return Response(readiness.readiness_for_window(start, end))


class Soc2HistoryView(ComplianceView):
    @extend_schema(
        parameters=WINDOW_PARAMETERS,
        responses=HistorySerializer,
        operation_id="soc2_history",
        summary="Scores of full runs over time",
    )
    def get(self, request: Request) -> Response:
        start, end = _window(request)
        return Response(
            {
                "window": {"from": start, "to": end},
                "runs": selectors.score_history(start, end),
            }
        )


class SecurityReportView(ComplianceView):
    @extend_schema(
        responses=OpenApiTypes.OBJECT,
        operation_id="security_report",
        summary="Security score, failing security checks, events of 30 days",
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.security_report())
