"""Helpers shared by the access tests (roles, memberships, organizations)."""

from __future__ import annotations

from datetime import datetime

from accounts.models import Membership, Organization, Role, User
from accounts.services import membership_create, roles_builtin_ensure
from tests.factories import OrganizationFactory, UserFactory


def builtin(kind: str) -> Role:
    return roles_builtin_ensure()[kind]


def member(
    organization: Organization,
    kind: str = "member",
    *,
    user: User | None = None,
    role: Role | None = None,
    expires_at: datetime | None = None,
) -> Membership:
    return membership_create(
        user=user or UserFactory(),
        organization=organization,
        role=role or builtin(kind),
        expires_at=expires_at,
    )


def fresh(user: User) -> User:
    """The user as a new request would load it (no cached access)."""
    return User.objects.get(pk=user.pk)


def organization(**kwargs: object) -> Organization:
    return OrganizationFactory(**kwargs)
