"""API of the privacy package: retention, legal holds, GDPR, certificates."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Organization, User
from compliance.models import (
    Classification,
    DataSubjectRequest,
    DataType,
    DeletionCertificate,
    LegalHold,
    RetentionPolicy,
    RetentionRun,
)
from compliance.privacy import certificates, gdpr, retention
from compliance.privacy.classification import classification_require
from compliance.privacy.holds import legal_hold_place, legal_hold_release
from compliance.privacy.permissions import requires, user_has_permission
from compliance.privacy.policies import retention_policies_ensure, retention_policy_update


class RetentionPolicySerializer(serializers.ModelSerializer):
    class Meta:
        model = RetentionPolicy
        fields = [
            "data_type",
            "amount",
            "unit",
            "starts_at_termination",
            "archive_before_delete",
            "description",
            "updated_at",
        ]
        read_only_fields = ["data_type", "starts_at_termination", "updated_at"]


class RetentionPolicyListView(APIView):
    permission_classes = [requires("retention.view")]

    @extend_schema(responses=RetentionPolicySerializer(many=True))
    def get(self, request: Request) -> Response:
        retention_policies_ensure()
        policies = RetentionPolicy.objects.order_by("data_type")
        return Response({"results": RetentionPolicySerializer(policies, many=True).data})


class RetentionPolicyUpdateSerializer(serializers.Serializer):
    amount = serializers.IntegerField(min_value=1, max_value=1200)
    unit = serializers.ChoiceField(choices=RetentionPolicy.Unit.choices)


class RetentionPolicyDetailView(APIView):
    permission_classes = [requires("settings.manage")]

    @extend_schema(request=RetentionPolicyUpdateSerializer, responses=RetentionPolicySerializer)
    def patch(self, request: Request, data_type: str) -> Response:
        retention_policies_ensure()
        get_object_or_404(RetentionPolicy, data_type=data_type)
        body = RetentionPolicyUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        policy = retention_policy_update(data_type=data_type, **body.validated_data)
        return Response(RetentionPolicySerializer(policy).data)


class RetentionExecuteSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField(default=False)


class RetentionRunSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    certificate = serializers.SerializerMethodField()

    class Meta:
        model = RetentionRun
        fields = [
            "id",
            "status",
            "started_at",
            "finished_at",
            "counts",
            "held",
            "anchors",
            "verification",
            "certificate",
        ]

    def get_certificate(self, run: RetentionRun) -> str | None:
        certificate = DeletionCertificate.objects.filter(run=run).first()
        return str(certificate.public_id) if certificate else None


class RetentionPreviewSerializer(serializers.Serializer):
    """What a dry run answers: the rows each data type would lose."""

    dry_run = serializers.BooleanField()
    would_delete = serializers.DictField(child=serializers.JSONField())


class RetentionExecuteView(APIView):
    permission_classes = [requires("retention.execute")]

    @extend_schema(
        request=RetentionExecuteSerializer,
        responses=PolymorphicProxySerializer(
            component_name="RetentionExecuteResult",
            serializers=[RetentionRunSerializer, RetentionPreviewSerializer],
            resource_type_field_name=None,
        ),
    )
    def post(self, request: Request) -> Response:
        body = RetentionExecuteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if body.validated_data["dry_run"]:
            return Response({"dry_run": True, "would_delete": retention.retention_preview()})
        run = retention.retention_execute(triggered_by=request.user)
        return Response(RetentionRunSerializer(run).data, status=status.HTTP_200_OK)


def _subject(request: Request, public_id: Any, *, own_allowed: bool) -> User:
    subject = get_object_or_404(User, public_id=public_id)
    if own_allowed and subject.pk == request.user.pk:
        return subject
    if not user_has_permission(request.user, "privacy.manage"):
        raise PermissionDenied("You need the privacy.manage permission.")
    return subject


class GdprExportView(APIView):
    """Everything held about a person, as NDJSON, streamed."""

    @extend_schema(responses={(200, "application/x-ndjson"): bytes})
    def get(self, request: Request, public_id: Any) -> StreamingHttpResponse:
        subject = _subject(request, public_id, own_allowed=True)
        assert isinstance(request.user, User)
        classification_require(request.user, Classification.RESTRICTED, owner=subject)
        dsr = gdpr.gdpr_export_start(subject=subject, requested_by=request.user)
        response = StreamingHttpResponse(
            gdpr.subject_export_lines(subject, request=dsr), content_type="application/x-ndjson"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="export-{subject.public_id}.ndjson"'
        )
        response["X-Data-Classification"] = "Restricted"
        return response


class GdprDeleteView(APIView):
    """Ask for an erasure: 202 with the four-eyes approval that will run it,
    or 409 at once under a legal hold."""

    @extend_schema(responses={202: dict})
    def delete(self, request: Request, public_id: Any) -> Response:
        subject = _subject(request, public_id, own_allowed=False)
        assert isinstance(request.user, User)
        dsr = gdpr.gdpr_erasure_request(subject=subject, requested_by=request.user)
        return Response(
            {
                "request": str(dsr.public_id),
                "status": dsr.status,
                "approval": dsr.outcome.get("approval"),
            },
            status=status.HTTP_202_ACCEPTED,
        )


class CertificatePdfView(APIView):
    permission_classes = [requires("retention.view")]

    @extend_schema(responses={(200, "application/pdf"): bytes})
    def get(self, request: Request, public_id: Any) -> HttpResponse:
        certificate = get_object_or_404(
            DeletionCertificate.objects.select_related("run", "request"), public_id=public_id
        )
        classification_require(request.user, certificate.classification, obj=certificate)
        response = HttpResponse(
            certificates.certificate_pdf(certificate), content_type="application/pdf"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="deletion-certificate-{certificate.public_id}.pdf"'
        )
        return response


class LegalHoldSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    user = serializers.UUIDField(source="user.public_id", read_only=True, default=None)
    organization = serializers.UUIDField(
        source="organization.public_id", read_only=True, default=None
    )
    owner = serializers.UUIDField(source="owner.public_id", read_only=True)

    class Meta:
        model = LegalHold
        fields = [
            "id",
            "scope",
            "user",
            "organization",
            "data_type",
            "reason",
            "owner",
            "created_at",
            "released_at",
        ]


class LegalHoldPlaceSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)
    user = serializers.UUIDField(required=False)
    organization = serializers.UUIDField(required=False)
    data_type = serializers.ChoiceField(choices=DataType.choices, required=False)


class LegalHoldListView(APIView):
    permission_classes = [requires("privacy.manage")]

    @extend_schema(responses=LegalHoldSerializer(many=True))
    def get(self, request: Request) -> Response:
        holds = LegalHold.objects.select_related("user", "organization", "owner")
        return Response({"results": LegalHoldSerializer(holds, many=True).data})

    @extend_schema(request=LegalHoldPlaceSerializer, responses=LegalHoldSerializer)
    def post(self, request: Request) -> Response:
        body = LegalHoldPlaceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        user = get_object_or_404(User, public_id=data["user"]) if "user" in data else None
        organization = (
            get_object_or_404(Organization, public_id=data["organization"])
            if "organization" in data
            else None
        )
        hold = legal_hold_place(
            owner=request.user,
            reason=data["reason"],
            user=user,
            organization=organization,
            data_type=data.get("data_type", ""),
        )
        return Response(LegalHoldSerializer(hold).data, status=status.HTTP_201_CREATED)


class LegalHoldReleaseView(APIView):
    permission_classes = [requires("privacy.manage")]

    @extend_schema(request=None, responses=LegalHoldSerializer)
    def post(self, request: Request, public_id: Any) -> Response:
        hold = get_object_or_404(LegalHold, public_id=public_id)
        return Response(LegalHoldSerializer(legal_hold_release(hold=hold)).data)


class PrivacyRequestSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    response_seconds = serializers.FloatField(read_only=True)

    class Meta:
        model = DataSubjectRequest
        fields = [
            "id",
            "kind",
            "status",
            "received_at",
            "due_at",
            "completed_at",
            "response_seconds",
        ]


class PrivacyRequestIntakeSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=[
            DataSubjectRequest.Kind.OBJECTION,
            DataSubjectRequest.Kind.COMPLAINT,
            DataSubjectRequest.Kind.ERASURE,
        ]
    )


class PrivacyRequestView(APIView):
    """A person files a request or complaint about their own data; privacy
    managers list every request with its response time."""

    @extend_schema(responses=PrivacyRequestSerializer(many=True))
    def get(self, request: Request) -> Response:
        requests = DataSubjectRequest.objects.order_by("-received_at")
        if not user_has_permission(request.user, "privacy.manage"):
            requests = requests.filter(subject_id=request.user.pk)
        return Response({"results": PrivacyRequestSerializer(requests[:200], many=True).data})

    @extend_schema(request=PrivacyRequestIntakeSerializer, responses=PrivacyRequestSerializer)
    def post(self, request: Request) -> Response:
        body = PrivacyRequestIntakeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        assert isinstance(request.user, User)
        filed = gdpr.privacy_request_file(subject=request.user, kind=body.validated_data["kind"])
        return Response(PrivacyRequestSerializer(filed).data, status=status.HTTP_201_CREATED)
