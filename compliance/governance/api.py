"""JSON API of the governance registers, under /api/compliance/.

Reads need ``controls.view`` in the operator organization, changes
``controls.manage`` (or staff); a member of the operator organization
acknowledges policies and records training for themselves. Objects are
addressed by their public UUID.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from compliance import models
from compliance.governance import selectors, services
from compliance.governance.permissions import (
    CanManageGovernance,
    CanRecordDeployment,
    CanViewGovernance,
)
from compliance.models.governance import RiskRating


class Pagination(LimitOffsetPagination):
    default_limit = 100
    max_limit = 500


# --- Serializers -------------------------------------------------------------


class UserRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    email = serializers.EmailField()
    full_name = serializers.CharField()


class PublicModelSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)


class PolicyVersionSerializer(PublicModelSerializer):
    author = UserRefSerializer()
    approver = UserRefSerializer(allow_null=True)

    class Meta:
        model = models.PolicyVersion
        fields = ["id", "number", "summary_of_changes", "author", "approver", "approved_at"]


class PolicySerializer(PublicModelSerializer):
    owner = UserRefSerializer()
    current_version = PolicyVersionSerializer(allow_null=True)
    review_due_at = serializers.DateTimeField(allow_null=True)
    acknowledgement_count = serializers.IntegerField()

    class Meta:
        model = models.Policy
        fields = [
            "id",
            "kind",
            "title",
            "owner",
            "required",
            "current_version",
            "review_period_days",
            "last_reviewed_at",
            "review_due_at",
            "acknowledgement_count",
        ]


class PolicyDetailSerializer(PolicySerializer):
    versions = PolicyVersionSerializer(many=True)
    acknowledgement_count = serializers.SerializerMethodField()

    class Meta(PolicySerializer.Meta):
        fields = [*PolicySerializer.Meta.fields, "versions"]

    def get_acknowledgement_count(self, policy: models.Policy) -> int:
        current = next(
            (v for v in policy.versions.all() if v.pk == policy.current_version_id), None
        )
        return current.acknowledgement_count if current else 0


class AcknowledgementSerializer(serializers.Serializer):
    policy_version = serializers.UUIDField(source="version.public_id")
    acknowledged_at = serializers.DateTimeField()


class TrainingModuleSerializer(PublicModelSerializer):
    roles = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    open_assignments = serializers.IntegerField()
    overdue_assignments = serializers.IntegerField()
    completion_count = serializers.IntegerField()

    class Meta:
        model = models.TrainingModule
        fields = [
            "id",
            "code",
            "title",
            "kind",
            "assign_on_joining",
            "due_days",
            "recurrence_days",
            "roles",
            "is_active",
            "open_assignments",
            "overdue_assignments",
            "completion_count",
        ]


class TrainingCompletionSerializer(PublicModelSerializer):
    module = serializers.UUIDField(source="module.public_id", read_only=True)
    user = UserRefSerializer(read_only=True)

    class Meta:
        model = models.TrainingCompletion
        fields = ["id", "module", "user", "completed_at", "score"]
        extra_kwargs = {"completed_at": {"required": False}, "score": {"required": False}}


class VendorSerializer(PublicModelSerializer):
    owner = UserRefSerializer()
    last_assessed_at = serializers.DateTimeField(allow_null=True)
    current_agreements = serializers.IntegerField()
    expired_reports = serializers.IntegerField()

    class Meta:
        model = models.Vendor
        fields = [
            "id",
            "name",
            "service",
            "data_received",
            "classification",
            "owner",
            "risk_rating",
            "review_cadence_days",
            "status",
            "last_assessed_at",
            "current_agreements",
            "expired_reports",
        ]


class VendorAssessmentSerializer(PublicModelSerializer):
    assessor = UserRefSerializer()

    class Meta:
        model = models.VendorAssessment
        fields = ["id", "assessed_at", "assessor", "questionnaire", "risk_rating", "notes"]


class VendorReportSerializer(PublicModelSerializer):
    class Meta:
        model = models.VendorComplianceReport
        fields = ["id", "kind", "sha256", "issued_on", "expires_on"]


class VendorAgreementSerializer(PublicModelSerializer):
    class Meta:
        model = models.VendorAgreement
        fields = ["id", "kind", "reference", "signed_on", "renewal_on", "terminated_on"]


class VendorIncidentSerializer(PublicModelSerializer):
    class Meta:
        model = models.VendorIncident
        fields = [
            "id",
            "occurred_at",
            "notified_at",
            "severity",
            "summary",
            "personal_data_affected",
            "resolved_at",
        ]


class DisclosureSerializer(PublicModelSerializer):
    vendor = serializers.SlugRelatedField(slug_field="name", read_only=True)
    consent_purpose = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = models.DataDisclosure
        fields = [
            "id",
            "vendor",
            "disclosed_at",
            "data_categories",
            "purpose",
            "subject_count",
            "consent_purpose",
            "consent_reference",
        ]


class VendorDetailSerializer(serializers.Serializer):
    vendor = serializers.SerializerMethodField()
    assessments = VendorAssessmentSerializer(many=True)
    reports = VendorReportSerializer(many=True)
    agreements = VendorAgreementSerializer(many=True)
    incidents = VendorIncidentSerializer(many=True)
    disclosures = DisclosureSerializer(many=True)

    def get_vendor(self, vendor: models.Vendor) -> dict[str, Any]:
        return {
            "id": str(vendor.public_id),
            "name": vendor.name,
            "classification": vendor.classification,
            "risk_rating": vendor.risk_rating,
            "review_cadence_days": vendor.review_cadence_days,
            "status": vendor.status,
        }


class RiskSerializer(PublicModelSerializer):
    owner = UserRefSerializer()
    score = serializers.IntegerField()
    is_high = serializers.BooleanField()
    review_due_at = serializers.DateTimeField(allow_null=True)
    controls = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)

    class Meta:
        model = models.Risk
        fields = [
            "id",
            "title",
            "category",
            "likelihood",
            "impact",
            "score",
            "is_high",
            "owner",
            "treatment",
            "treatment_plan",
            "controls",
            "review_period_days",
            "last_reviewed_at",
            "review_due_at",
            "status",
        ]


def _control_codes(**kwargs: Any) -> serializers.SlugRelatedField[Any]:
    """The engine's active controls, named by code ("CX-RSK-01"); an unknown
    or retired code is refused with the field named."""
    return serializers.SlugRelatedField(
        slug_field="code",
        many=True,
        queryset=models.Control.objects.filter(is_active=True),
        help_text="Codes of the engine's controls that treat the risk.",
        **kwargs,
    )


class RiskWriteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    category = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
    likelihood = serializers.IntegerField(min_value=1, max_value=5)
    impact = serializers.IntegerField(min_value=1, max_value=5)
    owner = serializers.SlugRelatedField(slug_field="public_id", queryset=User.objects.all())
    treatment = serializers.ChoiceField(
        choices=models.Risk.Treatment.choices, required=False, allow_blank=True, default=""
    )
    treatment_plan = serializers.CharField(required=False, allow_blank=True, default="")
    controls = _control_codes(required=False, default=list)
    review_period_days = serializers.IntegerField(min_value=1, max_value=730, default=90)


class RiskReviewSerializer(serializers.Serializer):
    likelihood = serializers.IntegerField(min_value=1, max_value=5, required=False)
    impact = serializers.IntegerField(min_value=1, max_value=5, required=False)
    treatment = serializers.ChoiceField(
        choices=models.Risk.Treatment.choices, required=False, allow_blank=True
    )
    treatment_plan = serializers.CharField(required=False, allow_blank=True)
    controls = _control_codes(required=False)


class AssessmentWriteSerializer(serializers.Serializer):
    questionnaire = serializers.DictField(help_text="Question id to the vendor's answer.")
    risk_rating = serializers.ChoiceField(choices=RiskRating.choices)
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class HeatmapSerializer(serializers.Serializer):
    cells = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="cells[likelihood - 1][impact - 1]: open risks in that cell.",
    )
    total = serializers.IntegerField()


class DeploymentSerializer(PublicModelSerializer):
    change = serializers.UUIDField(source="change.public_id", allow_null=True)

    class Meta:
        model = models.Deployment
        fields = ["id", "change", "environment", "commit", "pipeline_run", "deployed_at"]


class ChangeSerializer(PublicModelSerializer):
    author = UserRefSerializer(read_only=True)
    reviewer = UserRefSerializer(read_only=True, allow_null=True)
    approver = UserRefSerializer(read_only=True, allow_null=True)
    commits = serializers.ListField(child=serializers.CharField(max_length=80), required=False)

    class Meta:
        model = models.ChangeRequest
        fields = [
            "id",
            "title",
            "description",
            "risk",
            "commits",
            "author",
            "reviewer",
            "approver",
            "status",
            "approved_at",
            "created_at",
        ]
        read_only_fields = ["status", "approved_at", "created_at"]


class ChangeDetailSerializer(ChangeSerializer):
    deployments = DeploymentSerializer(many=True, read_only=True)

    class Meta(ChangeSerializer.Meta):
        fields = [*ChangeSerializer.Meta.fields, "deployments"]


class DeploymentRecordSerializer(serializers.Serializer):
    change = serializers.UUIDField(help_text="The approved change request being deployed.")
    environment = serializers.CharField(max_length=40, default="production")
    commit = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    pipeline_run = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="The pipeline's run id; a retried call with the same id records nothing new.",
    )
    deployed_at = serializers.DateTimeField(required=False)


class DrTestSerializer(PublicModelSerializer):
    class Meta:
        model = models.DisasterRecoveryTest
        fields = ["id", "kind", "performed_at", "measured_rto_minutes", "measured_rpo_minutes"]


class DrPlanSerializer(PublicModelSerializer):
    owner = UserRefSerializer()
    last_tested_at = serializers.DateTimeField(allow_null=True)
    last_measured_rto = serializers.IntegerField(allow_null=True)
    last_measured_rpo = serializers.IntegerField(allow_null=True)

    class Meta:
        model = models.DisasterRecoveryPlan
        fields = [
            "id",
            "name",
            "scope",
            "rto_minutes",
            "rpo_minutes",
            "owner",
            "approved_at",
            "last_tested_at",
            "last_measured_rto",
            "last_measured_rpo",
        ]


class FindingSerializer(PublicModelSerializer):
    owner = UserRefSerializer()
    control = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = models.AuditFinding
        fields = [
            "id",
            "title",
            "severity",
            "control",
            "owner",
            "opened_at",
            "due_on",
            "closed_at",
            "closure_note",
        ]


class AuditSerializer(PublicModelSerializer):
    lead = UserRefSerializer()
    finding_count = serializers.IntegerField()
    open_findings = serializers.IntegerField()

    class Meta:
        model = models.InternalAudit
        fields = [
            "id",
            "title",
            "kind",
            "period_start",
            "period_end",
            "lead",
            "status",
            "completed_on",
            "finding_count",
            "open_findings",
        ]


class ClosureKpiSerializer(serializers.Serializer):
    closed = serializers.IntegerField()
    open = serializers.IntegerField()
    open_overdue = serializers.IntegerField()
    mean_days_to_close = serializers.FloatField(allow_null=True)
    median_days_to_close = serializers.FloatField(allow_null=True)
    closed_on_time = serializers.IntegerField()


class WalkthroughSerializer(PublicModelSerializer):
    presenter = UserRefSerializer()
    control = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = models.Walkthrough
        fields = [
            "id",
            "control",
            "auditor_name",
            "presenter",
            "scheduled_at",
            "status",
            "held_at",
            "record",
        ]


# --- Views -------------------------------------------------------------------


class RegisterList(generics.ListAPIView):
    permission_classes = [CanViewGovernance]
    pagination_class = Pagination


class RegisterDetail(generics.RetrieveAPIView):
    permission_classes = [CanViewGovernance]
    lookup_field = "public_id"


@extend_schema(tags=["governance"])
class PolicyListView(RegisterList):
    serializer_class = PolicySerializer

    def get_queryset(self) -> QuerySet[models.Policy]:
        return selectors.policy_list()


@extend_schema(tags=["governance"])
class PolicyDetailView(RegisterDetail):
    serializer_class = PolicyDetailSerializer

    def get_object(self) -> models.Policy:
        try:
            return selectors.policy_get(public_id=self.kwargs["public_id"])
        except models.Policy.DoesNotExist:
            raise Http404 from None


@extend_schema(tags=["governance"])
class PolicyAcknowledgeView(APIView):
    """Acknowledge the current version of a policy as the caller."""

    # Any member of the operator's workforce, for themselves.
    permission_classes = [CanViewGovernance]

    @extend_schema(request=None, responses={201: AcknowledgementSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        policy = get_object_or_404(models.Policy, public_id=public_id)
        assert isinstance(request.user, User)
        acknowledgement = services.policy_acknowledge(policy=policy, user=request.user)
        return Response(AcknowledgementSerializer(acknowledgement).data, status=201)


@extend_schema(tags=["governance"])
class PolicyVersionApproveView(APIView):
    """Approve a policy version; its author cannot."""

    permission_classes = [CanManageGovernance]

    @extend_schema(request=None, responses={200: PolicyVersionSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        version = get_object_or_404(
            models.PolicyVersion.objects.select_related("policy"), public_id=public_id
        )
        assert isinstance(request.user, User)
        version = services.policy_version_approve(version=version, approver=request.user)
        return Response(PolicyVersionSerializer(version).data)


@extend_schema(tags=["governance"])
class TrainingModuleListView(RegisterList):
    serializer_class = TrainingModuleSerializer

    def get_queryset(self) -> QuerySet[models.TrainingModule]:
        return selectors.training_module_list()


@extend_schema(tags=["governance"])
class TrainingCompleteView(APIView):
    """Record that the caller completed a training module."""

    # Any member of the operator's workforce, for themselves.
    permission_classes = [CanViewGovernance]

    @extend_schema(
        request=TrainingCompletionSerializer, responses={201: TrainingCompletionSerializer}
    )
    def post(self, request: Request, public_id: str) -> Response:
        module = get_object_or_404(models.TrainingModule, public_id=public_id, is_active=True)
        incoming = TrainingCompletionSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        assert isinstance(request.user, User)
        completion = services.training_complete(
            module=module,
            user=request.user,
            completed_at=incoming.validated_data.get("completed_at"),
            score=incoming.validated_data.get("score"),
        )
        return Response(TrainingCompletionSerializer(completion).data, status=201)


@extend_schema(tags=["governance"])
class VendorListView(RegisterList):
    serializer_class = VendorSerializer

    def get_queryset(self) -> QuerySet[models.Vendor]:
        return selectors.vendor_list()


@extend_schema(tags=["governance"])
class VendorDetailView(RegisterDetail):
    serializer_class = VendorDetailSerializer

    def get_object(self) -> models.Vendor:
        try:
            return selectors.vendor_get(public_id=self.kwargs["public_id"])
        except models.Vendor.DoesNotExist:
            raise Http404 from None


@extend_schema(tags=["governance"])
class DisclosureListView(RegisterList):
    serializer_class = DisclosureSerializer

    def get_queryset(self) -> QuerySet[models.DataDisclosure]:
        return selectors.disclosure_list()


@extend_schema(tags=["governance"])
class RiskListView(RegisterList):
    serializer_class = RiskSerializer

    def get_permissions(self) -> list[Any]:
        return [CanManageGovernance() if self.request.method == "POST" else CanViewGovernance()]

    def get_queryset(self) -> QuerySet[models.Risk]:
        return selectors.risk_list()

    @extend_schema(request=RiskWriteSerializer, responses={201: RiskSerializer})
    def post(self, request: Request) -> Response:
        incoming = RiskWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        risk = services.risk_create(**incoming.validated_data)
        return Response(RiskSerializer(risk).data, status=201)


@extend_schema(tags=["governance"])
class RiskReviewView(APIView):
    """Record a review of a risk, with what the review changed."""

    permission_classes = [CanManageGovernance]

    @extend_schema(request=RiskReviewSerializer, responses={200: RiskSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        risk = get_object_or_404(models.Risk.objects.select_related("owner"), public_id=public_id)
        incoming = RiskReviewSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        assert isinstance(request.user, User)
        risk = services.risk_review_record(
            risk=risk, reviewer=request.user, **incoming.validated_data
        )
        return Response(RiskSerializer(risk).data)


@extend_schema(tags=["governance"])
class PolicyReviewView(APIView):
    """Record that a policy was reviewed and stands unchanged."""

    permission_classes = [CanManageGovernance]

    @extend_schema(request=None, responses={200: PolicySerializer})
    def post(self, request: Request, public_id: str) -> Response:
        policy = get_object_or_404(models.Policy, public_id=public_id)
        assert isinstance(request.user, User)
        services.policy_review_record(policy=policy, reviewer=request.user)
        policy = selectors.policy_list().get(pk=policy.pk)
        return Response(PolicySerializer(policy).data)


@extend_schema(tags=["governance"])
class VendorAssessmentView(APIView):
    """Record a due-diligence assessment of a vendor."""

    permission_classes = [CanManageGovernance]

    @extend_schema(request=AssessmentWriteSerializer, responses={201: VendorAssessmentSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        vendor = get_object_or_404(models.Vendor, public_id=public_id)
        incoming = AssessmentWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        assert isinstance(request.user, User)
        assessment = services.vendor_assessment_record(
            vendor=vendor, assessor=request.user, **incoming.validated_data
        )
        return Response(VendorAssessmentSerializer(assessment).data, status=201)


@extend_schema(tags=["governance"])
class RiskDetailView(RegisterDetail):
    serializer_class = RiskSerializer

    def get_queryset(self) -> QuerySet[models.Risk]:
        return selectors.risk_list()


@extend_schema(tags=["governance"])
class RiskHeatmapView(APIView):
    """Open risks counted per likelihood x impact cell."""

    permission_classes = [CanViewGovernance]

    @extend_schema(responses=HeatmapSerializer)
    def get(self, request: Request) -> Response:
        return Response(HeatmapSerializer(selectors.risk_heatmap()).data)


@extend_schema(tags=["governance"])
class ChangeListView(generics.ListCreateAPIView):
    serializer_class = ChangeSerializer
    pagination_class = Pagination

    def get_permissions(self) -> list[Any]:
        return [CanManageGovernance() if self.request.method == "POST" else CanViewGovernance()]

    def get_queryset(self) -> QuerySet[models.ChangeRequest]:
        return selectors.change_list()

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        serializer.save(author=self.request.user, status=models.ChangeRequest.Status.SUBMITTED)


@extend_schema(tags=["governance"])
class ChangeDetailView(RegisterDetail):
    serializer_class = ChangeDetailSerializer

    def get_object(self) -> models.ChangeRequest:
        try:
            return selectors.change_get(public_id=self.kwargs["public_id"])
        except models.ChangeRequest.DoesNotExist:
            raise Http404 from None


@extend_schema(tags=["governance"])
class ChangeApproveView(APIView):
    """Approve a submitted change; its author cannot."""

    permission_classes = [CanManageGovernance]

    @extend_schema(request=None, responses={200: ChangeSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        change = get_object_or_404(models.ChangeRequest, public_id=public_id)
        assert isinstance(request.user, User)
        change = services.change_request_approve(change=change, approver=request.user)
        return Response(ChangeSerializer(change).data)


@extend_schema(tags=["governance"])
class DeploymentRecordView(APIView):
    """Record a deployment against an approved change; called by CI/CD.

    A retried call with the same environment and pipeline run answers 200
    with the first record instead of 201.
    """

    # The pipeline calls with an operator service key scoped to
    # controls.manage; the record then names the service account.
    permission_classes = [CanRecordDeployment]

    @extend_schema(
        request=DeploymentRecordSerializer,
        responses={201: DeploymentSerializer, 200: DeploymentSerializer},
        operation_id="compliance_changes_deployments_create",
    )
    def post(self, request: Request) -> Response:
        incoming = DeploymentRecordSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        change = models.ChangeRequest.objects.filter(public_id=data["change"]).first()
        if change is None:
            raise serializers.ValidationError({"change": ["No change request with this id."]})
        assert isinstance(request.user, User)
        deployment, created = services.deployment_record(
            change=change,
            recorded_by=request.user,
            environment=data["environment"],
            commit=data["commit"],
            pipeline_run=data["pipeline_run"],
            deployed_at=data.get("deployed_at"),
        )
        return Response(
            DeploymentSerializer(deployment).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


@extend_schema(tags=["governance"])
class DrPlanListView(RegisterList):
    serializer_class = DrPlanSerializer

    def get_queryset(self) -> QuerySet[models.DisasterRecoveryPlan]:
        return selectors.dr_plan_list()


@extend_schema(tags=["governance"])
class AuditListView(RegisterList):
    serializer_class = AuditSerializer

    def get_queryset(self) -> QuerySet[models.InternalAudit]:
        return selectors.audit_list()


@extend_schema(tags=["governance"])
class FindingClosureKpiView(APIView):
    """Audit finding closure time: the dashboard's KPI."""

    permission_classes = [CanViewGovernance]

    @extend_schema(responses=ClosureKpiSerializer)
    def get(self, request: Request) -> Response:
        return Response(ClosureKpiSerializer(selectors.finding_closure_kpi()).data)


@extend_schema(tags=["governance"])
class FindingCloseView(APIView):
    permission_classes = [CanManageGovernance]

    @extend_schema(
        request=inline_serializer("FindingClose", {"note": serializers.CharField()}),
        responses={200: FindingSerializer},
    )
    def post(self, request: Request, public_id: str) -> Response:
        finding = get_object_or_404(
            models.AuditFinding.objects.select_related("owner", "control"), public_id=public_id
        )
        note = request.data.get("note", "") if isinstance(request.data, dict) else ""
        finding = services.finding_close(finding=finding, note=str(note))
        return Response(FindingSerializer(finding).data)


@extend_schema(tags=["governance"])
class WalkthroughListView(RegisterList):
    serializer_class = WalkthroughSerializer

    def get_queryset(self) -> QuerySet[models.Walkthrough]:
        return selectors.walkthrough_list()
