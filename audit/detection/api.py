"""The detection API: active alerts, alert status, containment reversal, ingest."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth.api import ApiKeyScopePermission
from accounts.models import User
from audit.detection import alerts as alert_services
from audit.detection import containment, incidents, ingest, selectors
from audit.detection.permissions import HasDetectionPermission
from audit.models import Alert, ContainmentAction, Incident

PAGE_SIZE = 50
MAX_INGEST_LINES = 10_000


class AlertSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    rule = serializers.CharField()
    title = serializers.CharField()
    severity = serializers.CharField()
    status = serializers.CharField()
    source_ip = serializers.IPAddressField(allow_null=True)
    subject = serializers.SerializerMethodField()
    owner = serializers.SerializerMethodField()
    event_count = serializers.IntegerField()
    max_risk = serializers.IntegerField()
    first_event_at = serializers.DateTimeField()
    last_event_at = serializers.DateTimeField()
    contained_at = serializers.DateTimeField(allow_null=True)
    summary = serializers.DictField()

    def get_subject(self, alert: Alert) -> str | None:
        if alert.subject_user is not None:
            return str(alert.subject_user.public_id)
        return alert.subject_label or None

    def get_owner(self, alert: Alert) -> str | None:
        return str(alert.owner.public_id) if alert.owner else None


class AlertListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    results = AlertSerializer(many=True)


class AlertListView(APIView):
    """Active alerts (open or acknowledged), newest activity first."""

    permission_classes = [IsAuthenticated, ApiKeyScopePermission, HasDetectionPermission]
    required_permission = "security_events.view"

    @extend_schema(
        operation_id="security_alerts_list",
        responses=AlertListSerializer,
        parameters=[
            OpenApiParameter("rule", str),
            OpenApiParameter("severity", str),
            OpenApiParameter("status", str),
            OpenApiParameter("offset", int),
        ],
    )
    def get(self, request: Request) -> Response:
        status = request.query_params.get("status", "")
        if status and status not in Alert.Status.values:
            raise ValidationError({"status": ["Not an alert status."]})
        queryset = selectors.alerts_active(
            rule=request.query_params.get("rule", ""),
            severity=request.query_params.get("severity", ""),
            status=status,
        )
        try:
            offset = max(0, int(request.query_params.get("offset", 0)))
        except ValueError:
            raise ValidationError({"offset": ["A whole number is required."]}) from None
        page = list(queryset[offset : offset + PAGE_SIZE])
        return Response(
            {"count": queryset.count(), "results": AlertSerializer(page, many=True).data}
        )


class AlertStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Alert.Status.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class AlertStatusView(APIView):
    permission_classes = [IsAuthenticated, ApiKeyScopePermission, HasDetectionPermission]
    required_permission = "incidents.manage"

    @extend_schema(
        operation_id="security_alert_status",
        request=AlertStatusSerializer,
        responses=AlertSerializer,
    )
    def post(self, request: Request, public_id: str) -> Response:
        alert = get_object_or_404(Alert, public_id=public_id)
        body = AlertStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = request.user
        assert isinstance(user, User)
        alert = alert_services.alert_status_change(
            alert=alert,
            status=body.validated_data["status"],
            by=user,
            note=body.validated_data.get("note", ""),
        )
        return Response(AlertSerializer(alert).data)


class ContainmentReverseView(APIView):
    """Undo one containment step (admins only; the service checks)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="security_containment_reverse", request=None, responses={200: dict}
    )
    def post(self, request: Request, action_id: int) -> Response:
        action = get_object_or_404(ContainmentAction, pk=action_id)
        user = request.user
        assert isinstance(user, User)
        action = containment.containment_reverse(action=action, by=user)
        return Response({"id": action.pk, "kind": action.kind, "state": action.state})


class IngestSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["jsonl", "authlog"])
    lines = serializers.ListField(
        child=serializers.CharField(
            allow_blank=True, trim_whitespace=False, max_length=ingest.MAX_LINE
        ),
        max_length=MAX_INGEST_LINES,
    )
    source = serializers.CharField(max_length=150)  # type: ignore[assignment]
    year = serializers.IntegerField(required=False, min_value=1970, max_value=2100)
    tz = serializers.CharField(required=False, default="UTC")


class IngestResultSerializer(serializers.Serializer):
    read = serializers.IntegerField()
    added = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    detection = serializers.DictField()


class IngestView(APIView):
    """Accept external security events; all lines or none.

    A staff user or one holding ``security_events.ingest`` in the operator
    organization, by session, JWT or an operator API key whose scopes hold
    ``security_events.ingest`` (a collector sends with a key).
    """

    permission_classes = [IsAuthenticated, ApiKeyScopePermission, HasDetectionPermission]
    required_permission = "security_events.ingest"

    @extend_schema(
        operation_id="security_ingest", request=IngestSerializer, responses=IngestResultSerializer
    )
    def post(self, request: Request) -> Response:
        body = IngestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data: dict[str, Any] = body.validated_data
        try:
            if data["format"] == "authlog":
                from django.utils import timezone

                parsed = list(
                    ingest.parse_authlog(
                        data["lines"],
                        year=data.get("year") or timezone.now().year,
                        tz=data["tz"],
                    )
                )
            else:
                parsed = list(ingest.parse_jsonl(data["lines"], strict=True))
        except ingest.IngestError as exc:
            raise ValidationError({"lines": [str(exc)]}) from None
        except (ValueError, KeyError):
            raise ValidationError({"tz": ["Unknown time zone."]}) from None
        result = ingest.events_ingest(parsed, source=f"api:{data['source']}")
        return Response(result.as_dict())


class IncidentSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    title = serializers.CharField(max_length=200)
    severity = serializers.ChoiceField(choices=Incident.Severity.choices)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    alert = serializers.UUIDField(required=False, write_only=True)
    phase = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)
    started_at = serializers.DateTimeField(read_only=True)
    detected_at = serializers.DateTimeField(read_only=True)
    resolved_at = serializers.DateTimeField(read_only=True)
    closed_at = serializers.DateTimeField(read_only=True)


class IncidentActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["phase", "note", "review", "close", "communicate"])
    phase = serializers.ChoiceField(choices=Incident.Phase.choices, required=False)
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    summary = serializers.CharField(required=False, allow_blank=True, default="")
    template = serializers.CharField(required=False, default="")
    recipients = serializers.ListField(
        child=serializers.EmailField(), required=False, default=list, max_length=200
    )


class IncidentCreateView(APIView):
    """Open an incident by hand or from an alert."""

    permission_classes = [IsAuthenticated, ApiKeyScopePermission, HasDetectionPermission]
    required_permission = "incidents.manage"

    @extend_schema(
        operation_id="security_incident_create",
        request=IncidentSerializer,
        responses=IncidentSerializer,
    )
    def post(self, request: Request) -> Response:
        body = IncidentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        user = request.user
        assert isinstance(user, User)
        alert = get_object_or_404(Alert, public_id=data["alert"]) if data.get("alert") else None
        incident = incidents.incident_open(
            title=data["title"],
            severity=data["severity"],
            description=data["description"],
            by=user,
            alert=alert,
        )
        return Response(IncidentSerializer(incident).data, status=201)


class IncidentActionView(APIView):
    """Move an incident on: next phase, note, review, close, communicate."""

    permission_classes = [IsAuthenticated, ApiKeyScopePermission, HasDetectionPermission]
    required_permission = "incidents.manage"

    @extend_schema(
        operation_id="security_incident_action",
        request=IncidentActionSerializer,
        responses=IncidentSerializer,
    )
    def post(self, request: Request, public_id: str) -> Response:
        incident = get_object_or_404(Incident, public_id=public_id)
        body = IncidentActionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        user = request.user
        assert isinstance(user, User)
        action = data["action"]
        if action == "phase":
            if not data.get("phase"):
                raise ValidationError({"phase": ["Name the next phase."]})
            incident = incidents.incident_phase_advance(
                incident=incident, phase=data["phase"], by=user, notes=data["notes"]
            )
        elif action == "note":
            incidents.incident_phase_note(incident=incident, by=user, notes=data["notes"])
        elif action == "review":
            incident = incidents.incident_review_record(
                incident=incident, by=user, summary=data["summary"]
            )
        elif action == "close":
            incident = incidents.incident_close(incident=incident, by=user)
        else:
            incidents.incident_communication_send(
                incident=incident,
                template=data["template"],
                recipients=data["recipients"],
                by=user,
                note=data["notes"],
            )
        incident.refresh_from_db()
        return Response(IncidentSerializer(incident).data)
