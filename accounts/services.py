"""Writes of the accounts app."""

from __future__ import annotations

import logging

from django.db import transaction

from accounts.models import Membership, Organization, Permission, Role, User
from accounts.permissions import BUILTIN_ROLES, CATALOG

logger = logging.getLogger(__name__)


@transaction.atomic
def permission_catalog_sync() -> None:
    """Make the Permission table match the catalog in code."""
    existing = {p.code: p for p in Permission.objects.all()}
    for code, description in CATALOG.items():
        permission = existing.get(code)
        if permission is None:
            Permission.objects.create(code=code, description=description)
        elif permission.description != description:
            permission.description = description
            permission.save(update_fields=["description"])


@transaction.atomic
def roles_builtin_ensure() -> dict[str, Role]:
    """Create the built-in roles with their own permissions, once."""
    permission_catalog_sync()
    by_code = {p.code: p for p in Permission.objects.all()}
    roles: dict[str, Role] = {}
    for name, kind, parent_kind, own in BUILTIN_ROLES:
        role, _ = Role.objects.get_or_create(
            organization=None,
            name=name,
            defaults={"kind": kind, "parent": roles.get(parent_kind) if parent_kind else None},
        )
        wanted = {by_code[code] for code in own}
        if set(role.permissions.all()) != wanted:
            role.permissions.set(wanted)
        roles[kind] = role
    return roles


def membership_create(
    *, user: User, organization: Organization, role: Role, invited_by: User | None = None
) -> Membership:
    membership, _ = Membership.objects.get_or_create(
        user=user,
        organization=organization,
        defaults={"role": role, "invited_by": invited_by},
    )
    return membership
