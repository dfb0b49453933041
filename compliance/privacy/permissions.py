"""Permission checks of the privacy API and commands, asked of the one
authorization service (``accounts.authorization``).

The data lifecycle is the operator's programme, so a code is asked in the
operator organization unless an object names its own. The staff and
superuser flags grant nothing here, as they grant nothing in the
authorization service: one rule for every door of the portal.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request


def user_has_permission(user: Any, code: str, *, obj: Any = None) -> bool:
    """Return whether ``user`` holds the catalog permission ``code`` (for
    ``obj``, in its organization, when given). A refusal is recorded as an
    ``access.permission_denied`` security event by the service."""
    from accounts.authorization import is_in_good_standing, user_has_perm

    if user is None or not is_in_good_standing(user):
        return False
    return user_has_perm(user, code, obj=obj)


def requires(code: str) -> type[BasePermission]:
    """Return a DRF permission class that demands ``code``."""

    class _Requires(BasePermission):
        message = f"You need the {code} permission."

        def has_permission(self, request: Request, view: Any) -> bool:
            return user_has_permission(request.user, code)

    _Requires.__name__ = f"Requires_{code.replace('.', '_')}"
    return _Requires
