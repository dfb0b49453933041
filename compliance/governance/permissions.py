"""Who may read and change the governance registers.

The registers belong to the operator's compliance program, so a permission
counts only when it is held through an active membership of the operator
organization. Staff (Django admin users) may do everything.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

VIEW = "controls.view"
MANAGE = "controls.manage"


def user_permission_codes(user: Any) -> set[str]:
    """Return the permission codes the user holds in the operator
    organization, its roles' parents included."""
    # TODO(authz): this branch was cut before the accounts authorization
    # module; once merged, answer with its user_permissions(user, operator)
    # so that one function decides every permission.
    from accounts.models import Membership, Permission, Role

    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    cached = getattr(user, "_governance_permission_codes", None)
    if cached is not None:
        return set(cached)

    role_ids = set(
        Membership.objects.filter(
            user=user,
            status=Membership.Status.ACTIVE,
            organization__slug=settings.OPERATOR_ORGANIZATION_SLUG,
        ).values_list("role_id", flat=True)
    )
    # Built-in roles are three deep at most; follow the parents until none
    # is new, which also ends on a (forbidden) cycle.
    frontier = set(role_ids)
    while frontier:
        parents = set(
            Role.objects.filter(pk__in=frontier, parent__isnull=False).values_list(
                "parent_id", flat=True
            )
        )
        frontier = parents - role_ids
        role_ids |= parents

    codes = set(
        Permission.objects.filter(roles__in=role_ids).values_list("code", flat=True).distinct()
    )
    user._governance_permission_codes = frozenset(codes)
    return codes


def user_may(user: Any, code: str) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if getattr(user, "terminated_at", None) is not None:
        return False
    if user.is_staff or user.is_superuser:
        return True
    held = user_permission_codes(user)
    # Managing the registers implies reading them.
    return code in held or (code == VIEW and MANAGE in held)


class CanViewGovernance(BasePermission):
    message = "You need the controls.view permission to see the governance registers."

    def has_permission(self, request: Request, view: Any) -> bool:
        return user_may(request.user, VIEW)


class CanManageGovernance(BasePermission):
    message = "You need the controls.manage permission to change the governance registers."

    def has_permission(self, request: Request, view: Any) -> bool:
        return user_may(request.user, MANAGE)
