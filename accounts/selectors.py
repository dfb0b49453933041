"""Reads of the accounts app: what pages, the API and the compliance engine
show. Each list runs a fixed number of queries whatever its length."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts import authorization
from accounts.models import (
    AccessReviewCampaign,
    AccessReviewItem,
    ApprovalRequest,
    Invitation,
    Membership,
    Organization,
    Role,
    User,
)
from accounts.permissions import CATALOG


def organizations_for_user(user: User) -> list[Organization]:
    now = timezone.now()
    return list(
        Organization.objects.filter(
            Q(memberships__expires_at__isnull=True) | Q(memberships__expires_at__gt=now),
            memberships__user=user,
            memberships__status=Membership.Status.ACTIVE,
        ).order_by("name")
    )


def members_list(organization: Organization) -> QuerySet[Membership]:
    """Every membership of an organization with what a row shows: two
    queries (the rows, with user, role and inviter joined)."""
    return (
        Membership.objects.filter(organization=organization)
        .select_related("user", "role", "invited_by")
        .order_by("status", "user__email")
    )


@dataclass(frozen=True)
class PermissionLine:
    code: str
    description: str
    # The role that gives the code: the role itself or the ancestor it
    # inherits it from.
    source: str
    inherited: bool


@dataclass(frozen=True)
class RoleView:
    role: Role
    chain: list[str]
    permissions: list[PermissionLine]
    members: int


def roles_for_organization(organization: Organization) -> list[RoleView]:
    """Built-in and custom roles, each with every permission it holds and
    where each comes from, so inheritance is shown explicitly."""
    roles_by_id = authorization.roles_load([organization.pk])
    counts = dict(
        Membership.objects.filter(organization=organization, status=Membership.Status.ACTIVE)
        .values_list("role_id")
        .annotate(n=Count("id"))
    )
    views = []
    for role in sorted(
        roles_by_id.values(), key=lambda r: (r.organization_id is not None, r.name)
    ):
        if role.organization_id not in (None, organization.pk):
            continue
        chain = authorization.role_chain(role.pk, roles_by_id)
        views.append(
            RoleView(
                role=role,
                chain=[roles_by_id[i].name for i in chain],
                permissions=_permission_lines(role, roles_by_id),
                members=counts.get(role.pk, 0),
            )
        )
    return views


def _permission_lines(role: Role, roles_by_id: dict[int, Role]) -> list[PermissionLine]:
    lines: dict[str, PermissionLine] = {}
    for ancestor_id in authorization.role_chain(role.pk, roles_by_id):
        ancestor = roles_by_id[ancestor_id]
        for permission in ancestor.permissions.all():
            lines.setdefault(
                permission.code,
                PermissionLine(
                    permission.code,
                    CATALOG.get(permission.code, permission.description),
                    ancestor.name,
                    ancestor_id != role.pk,
                ),
            )
    return sorted(lines.values(), key=lambda line: line.code)


def role_permission_lines(role: Role) -> list[PermissionLine]:
    """Every permission of one role, each with the role it comes from."""
    roles_by_id = authorization.roles_load([role.organization_id] if role.organization_id else [])
    return _permission_lines(role, roles_by_id)


def roles_assignable(organization: Organization) -> list[Role]:
    return list(
        Role.objects.filter(Q(organization__isnull=True) | Q(organization=organization)).order_by(
            "name"
        )
    )


def invitations_list(organization: Organization) -> QuerySet[Invitation]:
    return (
        Invitation.objects.filter(organization=organization)
        .select_related("role", "invited_by", "accepted_by")
        .order_by("-created_at")
    )


def approvals_list(organization: Organization) -> QuerySet[ApprovalRequest]:
    return (
        ApprovalRequest.objects.filter(organization=organization)
        .select_related("requested_by", "decided_by")
        .order_by("-requested_at")
    )


def campaigns_list(organization: Organization) -> QuerySet[AccessReviewCampaign]:
    return AccessReviewCampaign.objects.filter(organization=organization).annotate(
        item_count=Count("items"),
        decided_count=Count("items", filter=~Q(items__decision=AccessReviewItem.Decision.PENDING)),
    )


def campaign_items(campaign: AccessReviewCampaign) -> QuerySet[AccessReviewItem]:
    return campaign.items.select_related(
        "membership__user", "role", "new_role", "decided_by"
    ).order_by("position", "id")


@dataclass(frozen=True)
class AccessReviewCompletion:
    """Completion of the last campaign of each organization in scope."""

    organizations: int
    campaigns: int
    items: int
    decided: int
    revoked: int
    completion: float | None
    completed_campaigns: int
    overdue_campaigns: int
    last_started_at: datetime | None
    last_completed_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def access_review_last_completion(
    organization: Organization | None = None,
) -> AccessReviewCompletion:
    """What the compliance engine reads: for each organization (or the one
    given), its latest campaign that was not cancelled, and how far it got.
    ``completion`` is decided items over items (1.0 for a campaign with no
    items), None when no campaign ever ran."""
    organizations = (
        Organization.objects.filter(pk=organization.pk)
        if organization
        else Organization.objects.all()
    )
    latest_ids = []
    for org_id in organizations.values_list("pk", flat=True):
        latest = (
            AccessReviewCampaign.objects.filter(organization_id=org_id)
            .exclude(status=AccessReviewCampaign.Status.CANCELLED)
            .order_by("-started_at", "-id")
            .values_list("pk", flat=True)
            .first()
        )
        if latest is not None:
            latest_ids.append(latest)
    campaigns = list(
        AccessReviewCampaign.objects.filter(pk__in=latest_ids).annotate(
            item_count=Count("items"),
            decided_count=Count(
                "items", filter=~Q(items__decision=AccessReviewItem.Decision.PENDING)
            ),
            revoked_count=Count(
                "items", filter=Q(items__decision=AccessReviewItem.Decision.REVOKE)
            ),
        )
    )
    now = timezone.now()
    items = sum(c.item_count for c in campaigns)
    decided = sum(c.decided_count for c in campaigns)
    completed = [c for c in campaigns if c.status == AccessReviewCampaign.Status.COMPLETED]
    return AccessReviewCompletion(
        organizations=organizations.count(),
        campaigns=len(campaigns),
        items=items,
        decided=decided,
        revoked=sum(c.revoked_count for c in campaigns),
        completion=(decided / items if items else 1.0) if campaigns else None,
        completed_campaigns=len(completed),
        overdue_campaigns=sum(
            1 for c in campaigns if c.status == AccessReviewCampaign.Status.OPEN and c.due_at < now
        ),
        last_started_at=max((c.started_at for c in campaigns), default=None),
        last_completed_at=max((c.completed_at for c in completed if c.completed_at), default=None),
    )
