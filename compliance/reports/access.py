"""Who may see and export reports: whoever holds ``reports.export`` in the
operator organization, as the portal-wide authorization service decides it
(current membership, role or inherited role, terminated users refused, an
expired auditor refused on the very next request)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from accounts.authorization import user_has_perm

PERMISSION = "reports.export"


def user_may_export_reports(user: Any) -> bool:
    """Return whether ``user`` holds reports.export in the operator
    organization; a refusal is recorded as a permission-denied event."""
    if not getattr(user, "is_authenticated", False):
        return False
    return user_has_perm(user, PERMISSION)


def reports_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse with 403 a signed-in user who may not export reports.

    Put it under ``login_required``, which sends anonymous visitors to sign in.
    """

    @wraps(view)
    def wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
        if not user_may_export_reports(request.user):
            raise PermissionDenied(f"Reports need the {PERMISSION} permission.")
        return view(request, *args, **kwargs)

    return wrapper


class CanExportReports(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return user_may_export_reports(request.user)
