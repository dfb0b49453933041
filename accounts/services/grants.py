"""Resource-level grants: one permission on one object."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from accounts import authorization
from accounts.models import Membership, ObjectPermissionGrant, Organization, Permission, Role, User
from accounts.services.roles import role_usable_in
from cloudexpress.api.exceptions import ServiceError


@transaction.atomic
def object_permission_grant(
    *,
    organization: Organization,
    code: str,
    obj: Any,
    grantee: Membership | Role,
    granted_by: User | None,
) -> ObjectPermissionGrant:
    """Grant ``code`` on ``obj`` to one member or one role. The granter must
    manage roles and hold ``code`` on that object themselves."""
    object_organization = getattr(obj, "organization_id", organization.pk)
    if object_organization != organization.pk:
        raise ServiceError(
            "That object belongs to another organization.",
            code="object_foreign",
            status_code=400,
        )
    if granted_by is not None:
        authorization.permission_require(granted_by, "roles.manage", organization)
        if not authorization.user_has_perm(granted_by, code, organization, obj):
            raise ServiceError(
                f"You cannot grant {code!r}: you do not hold it on this object.",
                code="permission_not_held",
                status_code=403,
            )
    if isinstance(grantee, Membership):
        if grantee.organization_id != organization.pk:
            raise ServiceError(
                "That member belongs to another organization.",
                code="membership_foreign",
                status_code=400,
            )
        target: dict[str, Any] = {"membership": grantee}
    else:
        role_usable_in(grantee, organization)
        target = {"role": grantee}
    permission = Permission.objects.filter(code=code).first()
    if permission is None:
        raise ServiceError(f"Unknown permission {code!r}.", code="unknown_permission")

    grant, _ = ObjectPermissionGrant.objects.get_or_create(
        organization=organization,
        permission=permission,
        content_type=ContentType.objects.get_for_model(obj),
        object_id=str(obj.pk),
        defaults={"granted_by": granted_by},
        **target,
    )
    return grant


@transaction.atomic
def object_permission_revoke(*, grant: ObjectPermissionGrant, by: User | None) -> None:
    if by is not None:
        authorization.permission_require(by, "roles.manage", grant.organization)
    grant.delete()
