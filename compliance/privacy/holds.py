"""Legal holds: placing, releasing, and what they cover right now."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from cloudexpress.api.exceptions import ServiceError
from compliance.models import LegalHold


@dataclass
class ActiveHolds:
    user_ids: set[int] = field(default_factory=set)
    organization_ids: set[int] = field(default_factory=set)
    data_types: set[str] = field(default_factory=set)

    def as_report(self) -> dict[str, Any]:
        return {
            "users": sorted(self.user_ids),
            "organizations": sorted(self.organization_ids),
            "data_types": sorted(self.data_types),
        }


def legal_holds_active() -> ActiveHolds:
    holds = ActiveHolds()
    for scope, user_id, organization_id, data_type in LegalHold.objects.filter(
        released_at=None
    ).values_list("scope", "user_id", "organization_id", "data_type"):
        if scope == LegalHold.Scope.USER:
            holds.user_ids.add(user_id)
        elif scope == LegalHold.Scope.ORGANIZATION:
            holds.organization_ids.add(organization_id)
        else:
            holds.data_types.add(data_type)
    return holds


def legal_hold_place(
    *,
    owner: Any,
    reason: str,
    user: Any = None,
    organization: Any = None,
    data_type: str = "",
) -> LegalHold:
    """Place a hold on exactly one of a user, an organization or a data type."""
    targets = [target for target in (user, organization, data_type or None) if target is not None]
    if len(targets) != 1:
        raise ServiceError(
            "A legal hold covers exactly one user, organization or data type.",
            code="legal_hold_target",
        )
    if not reason.strip():
        raise ServiceError("A legal hold needs a reason.", code="legal_hold_reason")
    scope = (
        LegalHold.Scope.USER
        if user is not None
        else LegalHold.Scope.ORGANIZATION
        if organization is not None
        else LegalHold.Scope.DATA_TYPE
    )
    return LegalHold.objects.create(
        scope=scope,
        user=user,
        organization=organization,
        data_type=data_type,
        reason=reason.strip(),
        owner=owner,
    )


def legal_hold_release(*, hold: LegalHold) -> LegalHold:
    if hold.released_at is None:
        hold.released_at = timezone.now()
        hold.save(update_fields=["released_at"])
    return hold


def legal_holds_for_user(user: Any) -> list[LegalHold]:
    """Every active hold that covers ``user``: on them, their organizations,
    or user data as a whole."""
    from django.db.models import Q

    from accounts.models import Membership
    from compliance.models import DataType

    organization_ids = Membership.objects.filter(user=user).values_list(
        "organization_id", flat=True
    )
    return list(
        LegalHold.objects.filter(released_at=None).filter(
            Q(scope=LegalHold.Scope.USER, user=user)
            | Q(scope=LegalHold.Scope.ORGANIZATION, organization_id__in=organization_ids)
            | Q(scope=LegalHold.Scope.DATA_TYPE, data_type=DataType.USER_DATA)
        )
    )
