"""Who may see and work detection data.

Security events, alerts and incidents belong to the operator (CloudExpress
itself), so a permission counts only through an active membership of the
operator organization; staff always may.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils import timezone
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import Membership, Role


def roles_with_permission(code: str) -> list[int]:
    """Ids of roles that hold ``code`` themselves or through a parent."""
    parents = dict(Role.objects.values_list("pk", "parent_id"))
    direct = set(Role.objects.filter(permissions__code=code).values_list("pk", flat=True))
    holding = set()
    for role_id in parents:
        seen: set[int] = set()
        current: int | None = role_id
        while current is not None and current not in seen:
            if current in direct:
                holding.add(role_id)
                break
            seen.add(current)
            current = parents.get(current)
    return sorted(holding)


def user_has_permission(user: Any, code: str) -> bool:
    # TODO(permissions): use the accounts app's permission selector once it
    # lands, so that custom roles and expiring grants are judged in one place.
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_staff or user.is_superuser:
        return True
    now = timezone.now()
    return Membership.objects.filter(
        Q(expires_at=None) | Q(expires_at__gt=now),
        user=user,
        organization__is_operator=True,
        status=Membership.Status.ACTIVE,
        role__in=roles_with_permission(code),
    ).exists()


class HasDetectionPermission(BasePermission):
    """DRF permission: staff, or the view's ``required_permission``."""

    def has_permission(self, request: Request, view: Any) -> bool:
        code = getattr(view, "required_permission", "security_events.view")
        return user_has_permission(request.user, code)
