"""Who may read and change the governance registers.

The registers belong to the operator's compliance program, so a permission
counts only when it is held through an active membership of the operator
organization; accounts.authorization decides it. The staff and superuser
flags grant nothing here, as they grant nothing there.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

VIEW = "controls.view"
MANAGE = "controls.manage"


def _operator_id(user: Any) -> int | None:
    from accounts.models import Organization

    organization = Organization.objects.filter(
        is_operator=True, memberships__user=user
    ).values_list("pk", flat=True)
    return organization.first()


def user_permission_codes(user: Any) -> set[str]:
    """Return the permission codes the user holds in the operator
    organization, as the authorization service answers them (roles'
    parents, expiry and standing included)."""
    from accounts.authorization import is_in_good_standing, user_permissions

    if not is_in_good_standing(user):
        return set()
    operator_id = _operator_id(user)
    return set(user_permissions(user, operator_id)) if operator_id else set()


def user_may(user: Any, code: str, *, record_denial: bool = True) -> bool:
    """Whether ``user`` may ``code`` on the registers: decided by
    accounts.authorization.user_has_perm in the operator organization."""
    from accounts.authorization import is_in_good_standing, user_has_perm

    if not is_in_good_standing(user):
        return False
    # Managing the registers implies reading them.
    if code == VIEW and user_has_perm(user, MANAGE, record_denial=False):
        return True
    return user_has_perm(user, code, record_denial=record_denial)


def _key_scope_allows(request: Request, code: str) -> bool:
    """An API key reaches the registers only within its scopes; these views
    set their own permission classes, so the project's scope check does
    not run for them and is made here. Sessions and tokens have no scopes."""
    from accounts.auth.apikeys import api_key_allows
    from accounts.models import ApiKey

    key = request.auth
    if not isinstance(key, ApiKey):
        return True
    return api_key_allows(key, code) or (code == VIEW and api_key_allows(key, MANAGE))


class CanViewGovernance(BasePermission):
    # What the project's API-key check reads to know the view's permission
    # (accounts.auth.api.view_required_permission): keys reach no view that
    # declares none.
    permission_code = VIEW
    permission_codes_any = (MANAGE,)
    message = "You need the controls.view permission to see the governance registers."

    def has_permission(self, request: Request, view: Any) -> bool:
        return _key_scope_allows(request, VIEW) and user_may(request.user, VIEW)


class CanManageGovernance(BasePermission):
    permission_code = MANAGE
    message = "You need the controls.manage permission to change the governance registers."

    def has_permission(self, request: Request, view: Any) -> bool:
        return _key_scope_allows(request, MANAGE) and user_may(request.user, MANAGE)


class CanRecordDeployment(BasePermission):
    """The CI/CD pipeline records deployments with a service API key, so it
    never signs in as a person; people may still record one by hand.

    A service key counts when it belongs to the operator organization and
    an Owner or Admin gave it the ``controls.manage`` scope (a service
    account's own role is Member, so the scope is what was delegated to it,
    and it opens no other register: those ask the account's role). Any
    other caller, a personal key included, needs ``controls.manage`` by
    role, and a personal key needs the scope as well.
    """

    permission_code = MANAGE
    message = (
        "Recording a deployment needs controls.manage: a person's role or an "
        "operator service key with that scope."
    )

    def has_permission(self, request: Request, view: Any) -> bool:
        from accounts.auth.apikeys import api_key_allows
        from accounts.models import ApiKey

        key = request.auth
        if isinstance(key, ApiKey):
            if not api_key_allows(key, MANAGE):
                return False
            if key.kind == ApiKey.Kind.SERVICE:
                return bool(key.organization.is_operator)
        return user_may(request.user, MANAGE)
