"""Serializers of the organizations API. Objects are named by public_id."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import (
    AccessReviewCampaign,
    AccessReviewItem,
    ApprovalRequest,
    Invitation,
    Membership,
    ObjectPermissionGrant,
    Organization,
)
from accounts.permissions import CATALOG


class OrganizationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Organization
        fields = ["id", "name", "slug", "is_operator", "require_mfa"]


class MemberSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    user = serializers.UUIDField(source="user.public_id", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    full_name = serializers.CharField(source="user.full_name", read_only=True)
    role = serializers.UUIDField(source="role.public_id", read_only=True)
    role_name = serializers.CharField(source="role.name", read_only=True)
    invited_by = serializers.EmailField(source="invited_by.email", read_only=True, default=None)

    class Meta:
        model = Membership
        fields = [
            "id",
            "user",
            "email",
            "full_name",
            "role",
            "role_name",
            "status",
            "expires_at",
            "invited_by",
            "created_at",
        ]


class MemberRoleChangeSerializer(serializers.Serializer):
    role = serializers.UUIDField()
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class PermissionLineSerializer(serializers.Serializer):
    code = serializers.CharField()
    description = serializers.CharField()
    source = serializers.CharField()
    inherited = serializers.BooleanField()


class RoleSerializer(serializers.Serializer):
    """A role with every permission it holds and where each comes from."""

    id = serializers.UUIDField(source="role.public_id")
    name = serializers.CharField(source="role.name")
    kind = serializers.CharField(source="role.kind")
    builtin = serializers.BooleanField(source="role.is_builtin")
    description = serializers.CharField(source="role.description")
    inherits = serializers.ListField(child=serializers.CharField(), source="chain")
    members = serializers.IntegerField()
    permissions = PermissionLineSerializer(many=True)


class RoleWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    parent = serializers.UUIDField(required=False, allow_null=True)
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(CATALOG)), default=list
    )


class RoleUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    parent = serializers.UUIDField(required=False, allow_null=True)
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(CATALOG)), required=False
    )


class InvitationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    role = serializers.UUIDField(source="role.public_id", read_only=True)
    role_name = serializers.CharField(source="role.name", read_only=True)
    invited_by = serializers.EmailField(source="invited_by.email", read_only=True, default=None)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "role",
            "role_name",
            "status",
            "membership_expires_at",
            "invited_by",
            "created_at",
            "sent_at",
            "expires_at",
            "accepted_at",
            "revoked_at",
        ]


class InvitationCreateSerializer(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.UUIDField()
    membership_expires_at = serializers.DateTimeField(required=False, allow_null=True)


class InvitationAcceptSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=200)


class ApprovalSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    requested_by = serializers.EmailField(source="requested_by.email", read_only=True)
    decided_by = serializers.EmailField(source="decided_by.email", read_only=True, default=None)

    class Meta:
        model = ApprovalRequest
        fields = [
            "id",
            "kind",
            "summary",
            "reason",
            "status",
            "payload",
            "requested_by",
            "requested_at",
            "decided_by",
            "decided_at",
            "decision_note",
            "executed_at",
            "result",
            "error",
        ]


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class CampaignSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    item_count = serializers.IntegerField(read_only=True, default=None)
    decided_count = serializers.IntegerField(read_only=True, default=None)

    class Meta:
        model = AccessReviewCampaign
        fields = [
            "id",
            "name",
            "slot",
            "status",
            "started_at",
            "due_at",
            "completed_at",
            "item_count",
            "decided_count",
        ]


class ReviewItemSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    membership = serializers.UUIDField(source="membership.public_id", read_only=True)
    email = serializers.EmailField(source="membership.user.email", read_only=True)
    decided_by = serializers.EmailField(source="decided_by.email", read_only=True, default=None)
    new_role = serializers.CharField(source="new_role.name", read_only=True, default=None)

    class Meta:
        model = AccessReviewItem
        fields = [
            "id",
            "membership",
            "email",
            "role_name",
            "privileged",
            "position",
            "decision",
            "new_role",
            "note",
            "decided_by",
            "decided_at",
        ]


class CampaignDetailSerializer(serializers.Serializer):
    campaign = CampaignSerializer()
    items = ReviewItemSerializer(many=True)


class ReviewDecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["keep", "change", "revoke"])
    new_role = serializers.UUIDField(required=False, allow_null=True)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class CompletionSerializer(serializers.Serializer):
    organizations = serializers.IntegerField()
    campaigns = serializers.IntegerField()
    items = serializers.IntegerField()
    decided = serializers.IntegerField()
    revoked = serializers.IntegerField()
    completion = serializers.FloatField(allow_null=True)
    completed_campaigns = serializers.IntegerField()
    overdue_campaigns = serializers.IntegerField()
    last_started_at = serializers.DateTimeField(allow_null=True)
    last_completed_at = serializers.DateTimeField(allow_null=True)


class TerminatedUserSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    email = serializers.EmailField()
    terminated_at = serializers.DateTimeField()
    terminated_reason = serializers.CharField()


class GrantSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    permission = serializers.CharField(source="permission.code")
    object_type = serializers.SerializerMethodField()
    object_id = serializers.CharField()
    member = serializers.UUIDField(source="membership.public_id", default=None)
    role = serializers.UUIDField(source="role.public_id", default=None)
    created_at = serializers.DateTimeField()

    def get_object_type(self, grant: ObjectPermissionGrant) -> str:
        return f"{grant.content_type.app_label}.{grant.content_type.model}"


class GrantCreateSerializer(serializers.Serializer):
    # A catalog code; checked by the service (a second enum of the same
    # choices would give the schema two names for one set).
    permission = serializers.CharField(max_length=80)
    object_type = serializers.RegexField(r"^[a-z_]+\.[a-z_]+$", help_text="app_label.model")
    object_id = serializers.CharField(max_length=64)
    member = serializers.UUIDField(required=False, allow_null=True)
    role = serializers.UUIDField(required=False, allow_null=True)

    def validate(self, attrs: dict) -> dict:
        if bool(attrs.get("member")) == bool(attrs.get("role")):
            raise serializers.ValidationError("Name exactly one of member and role.")
        return attrs
