"""A small permission check until the authorization service lands.

TODO(authz): replace with the authorization service's check, scoped to the
organization the request acts for; this one grants a code when any active
membership's role (or a parent role) holds it, and to staff.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request


def user_has_permission(user: Any, code: str) -> bool:
    """Return whether ``user`` holds the catalog permission ``code``."""
    from accounts.models import Membership, Permission, Role

    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser or user.is_staff:
        return True

    role_ids = set(
        Membership.objects.filter(user=user, status=Membership.Status.ACTIVE).values_list(
            "role_id", flat=True
        )
    )
    frontier = set(role_ids)
    while frontier:
        parents = set(
            Role.objects.filter(pk__in=frontier, parent__isnull=False).values_list(
                "parent_id", flat=True
            )
        )
        frontier = parents - role_ids
        role_ids |= parents
    return Permission.objects.filter(code=code, roles__in=role_ids).exists()


def requires(code: str) -> type[BasePermission]:
    """Return a DRF permission class that demands ``code``."""

    class _Requires(BasePermission):
        message = f"You need the {code} permission."

        def has_permission(self, request: Request, view: Any) -> bool:
            return user_has_permission(request.user, code)

    _Requires.__name__ = f"Requires_{code.replace('.', '_')}"
    return _Requires
