"""The organizations API: members, roles, invitations, approvals and access
reviews under /api/orgs/<slug>/..., every check through the authorization
service (``HasPermission``)."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import authorization, selectors, services
from accounts.api import serializers as s
from accounts.authorization import HasPermission
from accounts.models import (
    AccessReviewCampaign,
    AccessReviewItem,
    ApprovalRequest,
    Invitation,
    Membership,
    ObjectPermissionGrant,
    Organization,
    Role,
    User,
)
from cloudexpress.api.exceptions import ServiceError


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


class OrganizationAPIView(APIView):
    """An API view inside one organization, named by the URL's slug. A caller
    who is not a current member gets 404: the API does not confirm that an
    organization exists."""

    read_permission = "org.view"
    write_permission = "org.view"

    def get_permissions(self) -> list[Any]:
        code = self.read_permission if self.request.method == "GET" else self.write_permission
        return [IsAuthenticated(), HasPermission(code)()]

    def get_organization(self) -> Organization:
        cached = getattr(self, "_organization", None)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        organization = Organization.objects.filter(slug=self.kwargs["slug"]).first()
        if (
            organization is None
            or authorization.membership_current(self.request.user, organization) is None
        ):
            raise Http404("No such organization.")
        self._organization = organization
        return organization

    def role(self, public_id: Any) -> Role:
        role = Role.objects.filter(
            Q(organization=self.get_organization()) | Q(organization__isnull=True),
            public_id=public_id,
        ).first()
        if role is None:
            raise ServiceError("No such role here.", code="role_unknown", status_code=400)
        return role


class OrganizationListView(APIView):
    @extend_schema(responses=s.OrganizationSerializer(many=True), operation_id="orgs_list")
    def get(self, request: Request) -> Response:
        organizations = selectors.organizations_for_user(_user(request))
        return Response(s.OrganizationSerializer(organizations, many=True).data)


class MemberListView(OrganizationAPIView):
    @extend_schema(responses=s.MemberSerializer(many=True), operation_id="orgs_members_list")
    def get(self, request: Request, slug: str) -> Response:
        rows = selectors.members_list(self.get_organization())
        return Response(s.MemberSerializer(rows, many=True).data)


class MemberDetailView(OrganizationAPIView):
    write_permission = "members.manage"

    def membership(self, public_id: Any) -> Membership:
        membership = (
            Membership.objects.select_related("user", "role", "organization", "invited_by")
            .filter(organization=self.get_organization(), public_id=public_id)
            .first()
        )
        if membership is None:
            raise Http404("No such member.")
        return membership

    @extend_schema(responses=s.MemberSerializer, operation_id="orgs_members_retrieve")
    def get(self, request: Request, slug: str, public_id: Any) -> Response:
        return Response(s.MemberSerializer(self.membership(public_id)).data)

    @extend_schema(
        request=s.MemberRoleChangeSerializer,
        responses={200: s.MemberSerializer, 202: s.ApprovalSerializer},
        operation_id="orgs_members_role_change",
        description="Change a member's role. Owner, Admin and Auditor need a second "
        "person's approval: the answer is then 202 with the approval request.",
    )
    def patch(self, request: Request, slug: str, public_id: Any) -> Response:
        data = s.MemberRoleChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.membership_role_change(
            membership=self.membership(public_id),
            role=self.role(data.validated_data["role"]),
            actor=_user(request),
            expires_at=data.validated_data.get("expires_at"),
            reason=data.validated_data.get("reason", ""),
        )
        if isinstance(result, ApprovalRequest):
            return Response(s.ApprovalSerializer(result).data, status=status.HTTP_202_ACCEPTED)
        return Response(s.MemberSerializer(self.membership(public_id)).data)


class MemberRemoveView(MemberDetailView):
    http_method_names = ["post", "options"]

    @extend_schema(
        request=s.ReasonSerializer,
        responses=s.MemberSerializer,
        operation_id="orgs_members_remove",
    )
    def post(self, request: Request, slug: str, public_id: Any) -> Response:
        data = s.ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.membership_remove(
            membership=self.membership(public_id),
            by=_user(request),
            reason=data.validated_data["reason"],
        )
        return Response(s.MemberSerializer(self.membership(public_id)).data)


class RoleListView(OrganizationAPIView):
    write_permission = "roles.manage"

    @extend_schema(responses=s.RoleSerializer(many=True), operation_id="orgs_roles_list")
    def get(self, request: Request, slug: str) -> Response:
        views = selectors.roles_for_organization(self.get_organization())
        return Response(s.RoleSerializer(views, many=True).data)

    @extend_schema(
        request=s.RoleWriteSerializer,
        responses={201: s.RoleSerializer},
        operation_id="orgs_roles_create",
    )
    def post(self, request: Request, slug: str) -> Response:
        data = s.RoleWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        role = services.role_create(
            organization=self.get_organization(),
            actor=_user(request),
            name=values["name"],
            description=values["description"],
            parent=self.role(values["parent"]) if values.get("parent") else None,
            permission_codes=values["permissions"],
        )
        return Response(_role_view(self.get_organization(), role), status=201)


def _role_view(organization: Organization, role: Role) -> dict[str, Any]:
    view = next(v for v in selectors.roles_for_organization(organization) if v.role.pk == role.pk)
    return s.RoleSerializer(view).data  # type: ignore[return-value]


class RoleDetailView(OrganizationAPIView):
    write_permission = "roles.manage"

    def custom_role(self, public_id: Any) -> Role:
        role = self.role(public_id)
        return role

    @extend_schema(responses=s.RoleSerializer, operation_id="orgs_roles_retrieve")
    def get(self, request: Request, slug: str, public_id: Any) -> Response:
        return Response(_role_view(self.get_organization(), self.role(public_id)))

    @extend_schema(
        request=s.RoleUpdateSerializer,
        responses=s.RoleSerializer,
        operation_id="orgs_roles_update",
    )
    def patch(self, request: Request, slug: str, public_id: Any) -> Response:
        data = s.RoleUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        role = services.role_update(
            role=self.role(public_id),
            actor=_user(request),
            name=values.get("name"),
            description=values.get("description"),
            permission_codes=values.get("permissions"),
            parent=self.role(values["parent"]) if values.get("parent") else None,
            clear_parent="parent" in values and values["parent"] is None,
        )
        return Response(_role_view(self.get_organization(), role))

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "reassign_to",
                str,
                description="Role (id) that the role's members move to; needed when in use.",
            )
        ],
        responses={204: None},
        operation_id="orgs_roles_delete",
    )
    def delete(self, request: Request, slug: str, public_id: Any) -> Response:
        reassign = request.query_params.get("reassign_to")
        services.role_delete(
            role=self.role(public_id),
            actor=_user(request),
            reassign_to=self.role(reassign) if reassign else None,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationListView(OrganizationAPIView):
    read_permission = "members.invite"
    write_permission = "members.invite"

    @extend_schema(
        responses=s.InvitationSerializer(many=True), operation_id="orgs_invitations_list"
    )
    def get(self, request: Request, slug: str) -> Response:
        rows = selectors.invitations_list(self.get_organization())
        return Response(s.InvitationSerializer(rows, many=True).data)

    @extend_schema(
        request=s.InvitationCreateSerializer,
        responses={201: s.InvitationSerializer},
        operation_id="orgs_invitations_create",
        description="Invite by e-mail. A privileged role waits for approval "
        "(status awaiting_approval) before the e-mail goes out.",
    )
    def post(self, request: Request, slug: str) -> Response:
        data = s.InvitationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = services.invitation_send(
            organization=self.get_organization(),
            email=data.validated_data["email"],
            role=self.role(data.validated_data["role"]),
            invited_by=_user(request),
            membership_expires_at=data.validated_data.get("membership_expires_at"),
        )
        return Response(s.InvitationSerializer(invitation).data, status=201)


class InvitationRevokeView(OrganizationAPIView):
    read_permission = "members.invite"
    write_permission = "members.invite"

    @extend_schema(
        request=s.NoteSerializer,
        responses=s.InvitationSerializer,
        operation_id="orgs_invitations_revoke",
    )
    def post(self, request: Request, slug: str, public_id: Any) -> Response:
        invitation = Invitation.objects.filter(
            organization=self.get_organization(), public_id=public_id
        ).first()
        if invitation is None:
            raise Http404("No such invitation.")
        data = s.NoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = services.invitation_revoke(
            invitation=invitation, by=_user(request), reason=data.validated_data["note"]
        )
        return Response(s.InvitationSerializer(invitation).data)


class InvitationAcceptView(APIView):
    @extend_schema(
        request=s.InvitationAcceptSerializer,
        responses=s.MemberSerializer,
        operation_id="invitations_accept",
    )
    def post(self, request: Request) -> Response:
        data = s.InvitationAcceptSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.invitation_accept(
            token=data.validated_data["token"], user=_user(request)
        )
        return Response(s.MemberSerializer(membership).data)


class ApprovalListView(OrganizationAPIView):
    @extend_schema(responses=s.ApprovalSerializer(many=True), operation_id="orgs_approvals_list")
    def get(self, request: Request, slug: str) -> Response:
        rows = selectors.approvals_list(self.get_organization())
        return Response(s.ApprovalSerializer(rows, many=True).data)


class ApprovalDecideView(OrganizationAPIView):
    write_permission = "approvals.decide"
    decision = "approve"

    @extend_schema(request=s.NoteSerializer, responses=s.ApprovalSerializer)
    def post(self, request: Request, slug: str, public_id: Any) -> Response:
        approval = ApprovalRequest.objects.filter(
            organization=self.get_organization(), public_id=public_id
        ).first()
        if approval is None:
            raise Http404("No such approval request.")
        data = s.NoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decide = (
            services.approval_approve if self.decision == "approve" else services.approval_refuse
        )
        approval = decide(
            approval=approval, decided_by=_user(request), note=data.validated_data["note"]
        )
        return Response(s.ApprovalSerializer(approval).data)


class ApprovalApproveView(ApprovalDecideView):
    decision = "approve"


class ApprovalRefuseView(ApprovalDecideView):
    decision = "refuse"


class CampaignListView(OrganizationAPIView):
    write_permission = "access_reviews.manage"

    @extend_schema(
        responses=s.CampaignSerializer(many=True), operation_id="orgs_access_reviews_list"
    )
    def get(self, request: Request, slug: str) -> Response:
        rows = selectors.campaigns_list(self.get_organization())
        return Response(s.CampaignSerializer(rows, many=True).data)

    @extend_schema(
        request=None,
        responses={201: s.CampaignSerializer},
        operation_id="orgs_access_reviews_start",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign, _ = services.access_review_campaign_start(
            organization=self.get_organization(), started_by=_user(request)
        )
        return Response(s.CampaignSerializer(campaign).data, status=201)


class CampaignCompletionView(OrganizationAPIView):
    @extend_schema(responses=s.CompletionSerializer, operation_id="orgs_access_reviews_completion")
    def get(self, request: Request, slug: str) -> Response:
        completion = selectors.access_review_last_completion(self.get_organization())
        return Response(s.CompletionSerializer(completion.as_dict()).data)


class CampaignDetailView(OrganizationAPIView):
    read_permission = "access_reviews.manage"
    write_permission = "access_reviews.manage"

    def campaign(self, public_id: Any) -> AccessReviewCampaign:
        campaign = AccessReviewCampaign.objects.filter(
            organization=self.get_organization(), public_id=public_id
        ).first()
        if campaign is None:
            raise Http404("No such campaign.")
        return campaign

    @extend_schema(
        responses=s.CampaignDetailSerializer, operation_id="orgs_access_reviews_retrieve"
    )
    def get(self, request: Request, slug: str, public_id: Any) -> Response:
        campaign = self.campaign(public_id)
        items = selectors.campaign_items(campaign)
        return Response(
            {
                "campaign": s.CampaignSerializer(campaign).data,
                "items": s.ReviewItemSerializer(items, many=True).data,
            }
        )


class ReviewItemDecideView(CampaignDetailView):
    http_method_names = ["post", "options"]

    @extend_schema(
        request=s.ReviewDecisionSerializer,
        responses=s.ReviewItemSerializer,
        operation_id="orgs_access_reviews_item_decide",
    )
    def post(self, request: Request, slug: str, public_id: Any, item_id: Any) -> Response:
        item = AccessReviewItem.objects.filter(
            campaign=self.campaign(public_id), public_id=item_id
        ).first()
        if item is None:
            raise Http404("No such review item.")
        data = s.ReviewDecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        item = services.access_review_item_decide(
            item=item,
            reviewer=_user(request),
            decision=values["decision"],
            new_role=self.role(values["new_role"]) if values.get("new_role") else None,
            note=values["note"],
            expires_at=values.get("expires_at"),
        )
        item = selectors.campaign_items(item.campaign).get(pk=item.pk)
        return Response(s.ReviewItemSerializer(item).data)


class UserTerminateView(APIView):
    """Offboard a person everywhere: an operator act (``members.manage`` in
    the operator organization)."""

    permission_classes = [IsAuthenticated, HasPermission("members.manage")]

    @extend_schema(
        request=s.ReasonSerializer,
        responses=s.TerminatedUserSerializer,
        operation_id="users_terminate",
    )
    def post(self, request: Request, public_id: Any) -> Response:
        data = s.ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = User.objects.filter(public_id=public_id).first()
        if user is None:
            raise Http404("No such user.")
        user = services.user_terminate(
            user=user, by=_user(request), reason=data.validated_data["reason"]
        )
        return Response(s.TerminatedUserSerializer(user).data)


class GrantListView(OrganizationAPIView):
    """Resource-level grants: one permission on one object, to one member or
    one role. Granting needs ``roles.manage`` and the permission itself on
    that object."""

    read_permission = "roles.manage"
    write_permission = "roles.manage"

    @extend_schema(responses=s.GrantSerializer(many=True), operation_id="orgs_grants_list")
    def get(self, request: Request, slug: str) -> Response:
        rows = ObjectPermissionGrant.objects.filter(
            organization=self.get_organization()
        ).select_related("permission", "content_type", "membership", "role")
        return Response(s.GrantSerializer(rows, many=True).data)

    @extend_schema(
        request=s.GrantCreateSerializer,
        responses={201: s.GrantSerializer},
        operation_id="orgs_grants_create",
    )
    def post(self, request: Request, slug: str) -> Response:
        data = s.GrantCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        organization = self.get_organization()
        app_label, model = values["object_type"].split(".")
        content_type = ContentType.objects.filter(app_label=app_label, model=model).first()
        model_class = content_type.model_class() if content_type else None
        target = None
        if model_class is not None:
            # An id that cannot be this model's key is an unknown object,
            # not a 500.
            try:
                key = model_class._meta.pk.to_python(values["object_id"])
                if isinstance(key, int) and not -(2**63) <= key < 2**63:
                    raise OverflowError(key)
                target = model_class._default_manager.filter(pk=key).first()
            except (DjangoValidationError, ValueError, TypeError, OverflowError):
                target = None
        if target is None or getattr(target, "organization_id", None) != organization.pk:
            raise ServiceError(
                "No such object in this organization.", code="object_unknown", status_code=400
            )
        if values.get("member"):
            grantee: Membership | Role | None = Membership.objects.filter(
                organization=organization, public_id=values["member"]
            ).first()
            if grantee is None:
                raise ServiceError("No such member here.", code="member_unknown")
        else:
            grantee = self.role(values["role"])
        grant = services.object_permission_grant(
            organization=organization,
            code=values["permission"],
            obj=target,
            grantee=grantee,
            granted_by=_user(request),
        )
        return Response(s.GrantSerializer(grant).data, status=201)


class GrantDetailView(OrganizationAPIView):
    read_permission = "roles.manage"
    write_permission = "roles.manage"

    @extend_schema(responses={204: None}, operation_id="orgs_grants_delete")
    def delete(self, request: Request, slug: str, public_id: Any) -> Response:
        grant = ObjectPermissionGrant.objects.filter(
            organization=self.get_organization(), public_id=public_id
        ).first()
        if grant is None:
            raise Http404("No such grant.")
        services.object_permission_revoke(grant=grant, by=_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
