"""Who may see and export reports.

TODO(rbac): the roles issue brings the portal-wide permission check; replace
this with it at merge. Until then: a superuser, or an active, unexpired
membership of the operator organization whose role (or its parent) holds
``reports.export``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils import timezone
from rest_framework.permissions import BasePermission

from accounts.models import Membership

PERMISSION = "reports.export"


def user_may_export_reports(user: Any) -> bool:
    if not getattr(user, "is_authenticated", False) or getattr(user, "is_terminated", False):
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_reports_export_allowed", None)
    if cached is not None:
        return bool(cached)
    allowed = (
        Membership.objects.filter(
            user=user,
            organization__is_operator=True,
            status=Membership.Status.ACTIVE,
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .filter(
            Q(role__permissions__code=PERMISSION) | Q(role__parent__permissions__code=PERMISSION)
        )
        .exists()
    )
    user._reports_export_allowed = allowed
    return allowed


def reports_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse with 403 a signed-in user who may not export reports.

    Put it under ``login_required``, which sends anonymous visitors to sign in.
    """

    @wraps(view)
    def wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
        if not user_may_export_reports(request.user):
            raise PermissionDenied("Reports need the reports.export permission.")
        return view(request, *args, **kwargs)

    return wrapper


class CanExportReports(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return user_may_export_reports(request.user)
