"""Resource-level permissions: one permission on one object."""

from __future__ import annotations

import uuid

from django.contrib.contenttypes.models import ContentType
from django.db import models

from accounts.models.core import Membership, Organization, Permission, Role, User


class ObjectPermissionGrant(models.Model):
    """Grant ``permission`` on one object (a report, an evidence folder, an
    incident) to one membership or to every holder of one role, inside one
    organization. The object is named by content type and primary key, kept
    as text so integer and UUID keys both fit."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="object_grants"
    )
    permission = models.ForeignKey(Permission, on_delete=models.PROTECT, related_name="+")
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.CharField(max_length=64)
    membership = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.CASCADE, related_name="object_grants"
    )
    role = models.ForeignKey(
        Role, null=True, blank=True, on_delete=models.CASCADE, related_name="object_grants"
    )
    granted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(membership__isnull=False, role__isnull=True)
                    | models.Q(membership__isnull=True, role__isnull=False)
                ),
                name="accounts_grant_one_grantee",
            ),
            models.UniqueConstraint(
                fields=["permission", "content_type", "object_id", "membership"],
                condition=models.Q(membership__isnull=False),
                name="accounts_grant_membership_unique",
            ),
            models.UniqueConstraint(
                fields=["permission", "content_type", "object_id", "role"],
                condition=models.Q(role__isnull=False),
                name="accounts_grant_role_unique",
            ),
        ]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        grantee = f"member {self.membership_id}" if self.membership_id else f"role {self.role_id}"
        return f"{self.permission_id} on {self.content_type_id}:{self.object_id} to {grantee}"
