"""Who may see and work detection data.

Security events, alerts and incidents belong to the operator (CloudExpress
itself), so a permission counts only through an active membership of the
operator organization; staff always may.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.authorization import is_in_good_standing, user_has_perm
from accounts.models import ApiKey, Organization, Role


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


def operator_organization_id() -> int | None:
    return Organization.objects.filter(is_operator=True).values_list("pk", flat=True).first()


def user_has_permission(user: Any, code: str) -> bool:
    """``code`` held in the operator organization as judged by
    ``accounts.authorization.user_has_perm`` (custom roles, inherited codes,
    expiring memberships, terminated users). The staff and superuser flags
    grant nothing, as they grant nothing in the authorization service."""
    if not is_in_good_standing(user):
        return False
    operator_id = operator_organization_id()
    if operator_id is None:
        return False
    # The pages and the API answer 403 themselves; the denial is not an
    # event here, as it was not before this check moved to accounts.
    return user_has_perm(user, code, operator_id, record_denial=False)


class HasDetectionPermission(BasePermission):
    """DRF permission: staff, or the view's ``required_permission`` in the
    operator organization. An API key counts only when it belongs to the
    operator organization; its scopes are checked by ``ApiKeyScopePermission``."""

    def has_permission(self, request: Request, view: Any) -> bool:
        code = getattr(view, "required_permission", "security_events.view")
        if isinstance(request.auth, ApiKey) and (
            request.auth.organization_id != operator_organization_id()
        ):
            return False
        return user_has_permission(request.user, code)
