"""Django admin for the accounts app.

Who may see or change what is answered by the authorization service (see
``AuthorizationBackend``). Memberships, roles, invitations, approvals, grants
and access reviews are read-only here: their changes must pass the guards
(grant only what you hold, keep an Owner, four-eyes for privileged roles),
which live in the services that the organization pages and the API call.
Every change made here is in the audit trail (auditlog).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts import selectors
from accounts.models import (
    AccessReviewCampaign,
    AccessReviewItem,
    ApprovalRequest,
    Invitation,
    Membership,
    ObjectPermissionGrant,
    Organization,
    Permission,
    Role,
    User,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Browse, search and filter; change through the guarded services."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "user"
    extra = 0
    can_delete = False
    fields = ["organization", "role", "status", "expires_at", "revoked_at", "revoked_reason"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        return super().get_queryset(request).select_related("organization", "role")


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ["email", "full_name", "is_active", "is_staff", "terminated_at", "last_login"]
    list_filter = ["is_active", "is_staff", ("terminated_at", admin.EmptyFieldListFilter)]
    search_fields = ["email", "full_name", "=public_id"]
    ordering = ["email"]
    fields = [
        "public_id",
        "email",
        "full_name",
        "is_staff",
        "is_active",
        "date_joined",
        "last_login",
        "password_changed_at",
        "credentials_version",
        "terminated_at",
        "terminated_reason",
    ]
    # Termination (is_active, terminated_*) goes through user_terminate,
    # which also revokes sessions and tokens. Staff status opens Django admin
    # and the operator's trail across every tenant: an admin form must not
    # grant it (it would skip four-eyes approval), so it is read-only here
    # and granted only from the command line (createsuperuser).
    readonly_fields = [
        "public_id",
        "email",
        "is_staff",
        "is_active",
        "date_joined",
        "last_login",
        "password_changed_at",
        "credentials_version",
        "terminated_at",
        "terminated_reason",
    ]
    inlines = [MembershipInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # People join by invitation; accounts are not made by hand.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Data is kept: offboarding terminates, it does not delete.
        return False


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_operator", "require_mfa", "created_at"]
    list_filter = ["is_operator", "require_mfa"]
    search_fields = ["name", "slug", "=public_id"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["public_id", "is_operator", "created_at", "updated_at"]

    actions = ["close_organizations"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Rows are never deleted here: security events and the audit chain
        # refer to them, and removing data is the retention policy's call.
        # What deleting must do for access, closing does (the action below).
        return False

    @admin.action(description="Close: end every member's access (sessions, tokens, keys)")
    def close_organizations(self, request: HttpRequest, queryset: QuerySet[Organization]) -> None:
        from django.contrib import messages

        from accounts.services import organization_close
        from cloudexpress.api.exceptions import ServiceError

        for organization in queryset:
            try:
                ended = organization_close(
                    organization=organization, by=request.user, reason="closed in admin"
                )
            except ServiceError as exc:
                self.message_user(request, f"{organization}: {exc.detail}", messages.ERROR)
            else:
                self.message_user(request, f"{organization}: {ended} memberships ended.")


@admin.register(Permission)
class PermissionAdmin(ReadOnlyAdmin):
    list_display = ["code", "description"]
    search_fields = ["code", "description"]


@admin.register(Role)
class RoleAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "organization", "parent", "created_at"]
    list_filter = ["kind", ("organization", admin.EmptyFieldListFilter)]
    search_fields = ["name", "organization__name", "=public_id"]
    list_select_related = ["organization", "parent"]
    fields = [
        "public_id",
        "name",
        "kind",
        "organization",
        "parent",
        "description",
        "all_permissions",
    ]
    readonly_fields = fields

    @admin.display(description="Permissions (own and inherited)")
    def all_permissions(self, role: Role) -> str:
        return "; ".join(
            f"{line.code} ({'from ' + line.source if line.inherited else 'own'})"
            for line in selectors.role_permission_lines(role)
        )


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ["user", "organization", "role", "status", "expires_at", "invited_by"]
    list_filter = ["status", "role__kind", "organization"]
    search_fields = ["user__email", "user__full_name", "organization__name", "=public_id"]
    list_select_related = ["user", "organization", "role", "invited_by"]


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ["email", "organization", "role", "status", "invited_by", "expires_at"]
    list_filter = ["status", "organization"]
    search_fields = ["email", "organization__name", "=public_id"]
    list_select_related = ["organization", "role", "invited_by"]
    exclude = ["token_hash"]


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ReadOnlyAdmin):
    list_display = ["kind", "summary", "organization", "status", "requested_by", "decided_by"]
    list_filter = ["kind", "status", "organization"]
    search_fields = ["summary", "requested_by__email", "decided_by__email", "=public_id"]
    list_select_related = ["organization", "requested_by", "decided_by"]


@admin.register(ObjectPermissionGrant)
class ObjectPermissionGrantAdmin(ReadOnlyAdmin):
    list_display = ["permission", "content_type", "object_id", "membership", "role"]
    list_filter = ["permission", "content_type", "organization"]
    search_fields = ["object_id", "membership__user__email", "role__name"]
    list_select_related = ["permission", "content_type", "membership__user", "role"]


class AccessReviewItemInline(admin.TabularInline):
    model = AccessReviewItem
    extra = 0
    can_delete = False
    fields = ["membership", "role_name", "privileged", "decision", "decided_by", "decided_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccessReviewItem]:
        return super().get_queryset(request).select_related("membership__user", "decided_by")


@admin.register(AccessReviewCampaign)
class AccessReviewCampaignAdmin(ReadOnlyAdmin):
    list_display = ["name", "organization", "slot", "status", "due_at", "completed_at"]
    list_filter = ["status", "organization"]
    search_fields = ["name", "slot", "organization__name"]
    list_select_related = ["organization"]
    inlines = [AccessReviewItemInline]
