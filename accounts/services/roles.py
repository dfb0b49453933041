"""Permission catalog, built-in and custom roles."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import IntegrityError, transaction

from accounts import authorization
from accounts.models import Invitation, Membership, Organization, Permission, Role, User
from accounts.permissions import BUILTIN_ROLES, CATALOG
from cloudexpress.api.exceptions import ServiceError

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


# --- Guards ------------------------------------------------------------------


def codes_not_held(
    actor: User | None, organization: Organization, codes: Iterable[str]
) -> set[str]:
    """The codes among ``codes`` that ``actor`` does not hold there; none
    for a system job (``actor`` None), which acts on a person's decision."""
    if actor is None:
        return set()
    return set(codes) - authorization.user_permissions(actor, organization)


def grant_guard(actor: User | None, organization: Organization, codes: Iterable[str]) -> None:
    """Refuse to let anyone grant a permission they do not hold."""
    missing = codes_not_held(actor, organization, codes)
    if missing:
        authorization.permission_denied_record(actor, sorted(missing)[0], organization.pk)
        raise ServiceError(
            "You cannot grant permissions you do not hold: " + ", ".join(sorted(missing)),
            code="permission_not_held",
            status_code=403,
        )


def role_codes_resolve(role: Role) -> frozenset[str]:
    """Every code the role holds, its own and inherited."""
    roles = authorization.roles_load([role.organization_id] if role.organization_id else [])
    roles[role.pk] = role
    return authorization.role_codes(role.pk, roles)


def role_usable_in(role: Role, organization: Organization) -> None:
    if role.organization_id not in (None, organization.pk):
        raise ServiceError(
            "That role belongs to another organization.", code="role_foreign", status_code=400
        )


def _codes_validate(codes: Iterable[str]) -> list[Permission]:
    wanted = set(codes)
    unknown = wanted - set(CATALOG)
    if unknown:
        raise ServiceError(
            "Unknown permissions: " + ", ".join(sorted(unknown)),
            code="unknown_permission",
            status_code=400,
        )
    return list(Permission.objects.filter(code__in=wanted))


def _inherited_codes(parent: Role | None) -> frozenset[str]:
    return role_codes_resolve(parent) if parent is not None else frozenset()


# --- Custom roles ------------------------------------------------------------


@transaction.atomic
def role_create(
    *,
    organization: Organization,
    actor: User | None,
    name: str,
    permission_codes: Iterable[str],
    parent: Role | None = None,
    description: str = "",
) -> Role:
    """Create a custom role; its permissions, own and inherited, must all be
    held by the actor."""
    if actor is not None:
        authorization.permission_require(actor, "roles.manage", organization)
    if parent is not None:
        role_usable_in(parent, organization)
    permissions = _codes_validate(permission_codes)
    grant_guard(actor, organization, {p.code for p in permissions} | _inherited_codes(parent))

    try:
        with transaction.atomic():
            role = Role.objects.create(
                organization=organization,
                name=name.strip(),
                kind=Role.Kind.CUSTOM,
                parent=parent,
                description=description,
            )
    except IntegrityError:
        raise ServiceError(
            "A role with that name exists in this organization.",
            code="role_name_taken",
            status_code=409,
        ) from None
    role.permissions.set(permissions)
    logger.info("role.created", extra={"role_id": role.pk, "organization_id": organization.pk})
    return role


@transaction.atomic
def role_update(
    *,
    role: Role,
    actor: User | None,
    name: str | None = None,
    permission_codes: Iterable[str] | None = None,
    parent: Role | None = None,
    clear_parent: bool = False,
    description: str | None = None,
) -> Role:
    """Change a custom role. Built-in roles are fixed by the catalog."""
    organization = _custom_role_organization(role)
    if actor is not None:
        authorization.permission_require(actor, "roles.manage", organization)

    if parent is not None:
        role_usable_in(parent, organization)
        chain = authorization.role_chain(parent.pk, authorization.roles_load([organization.pk]))
        if role.pk in chain:
            raise ServiceError(
                "A role cannot inherit from itself or its descendants.",
                code="role_cycle",
                status_code=400,
            )
        role.parent = parent
    elif clear_parent:
        role.parent = None

    permissions = (
        _codes_validate(permission_codes)
        if permission_codes is not None
        else list(role.permissions.all())
    )
    grant_guard(actor, organization, {p.code for p in permissions} | _inherited_codes(role.parent))

    if name is not None:
        role.name = name.strip()
    if description is not None:
        role.description = description
    try:
        # A savepoint, so that a taken name answers 409 and the outer
        # transaction stays usable.
        with transaction.atomic():
            role.save()
    except IntegrityError:
        raise ServiceError(
            "A role with that name exists in this organization.",
            code="role_name_taken",
            status_code=409,
        ) from None
    role.permissions.set(permissions)
    return role


@transaction.atomic
def role_delete(*, role: Role, actor: User | None, reassign_to: Role | None = None) -> int:
    """Delete a custom role. Members holding it must be moved to
    ``reassign_to`` in the same step; return how many were moved."""
    organization = _custom_role_organization(role)
    if actor is not None:
        authorization.permission_require(actor, "roles.manage", organization)
    if role.children.exists():
        raise ServiceError(
            "Other roles inherit from this role; change them first.",
            code="role_has_children",
            status_code=409,
        )

    in_use = Membership.objects.filter(role=role).exists()
    open_invitations = Invitation.objects.filter(role=role).exists()
    if (in_use or open_invitations) and reassign_to is None:
        raise ServiceError(
            "This role is in use: choose a role to reassign its members to.",
            code="role_in_use",
            status_code=409,
        )

    moved = 0
    if reassign_to is not None:
        if reassign_to.pk == role.pk:
            raise ServiceError(
                "Reassign to a different role.", code="role_in_use", status_code=409
            )
        role_usable_in(reassign_to, organization)
        if reassign_to.kind in authorization.PRIVILEGED_KINDS:
            # A privileged role is granted through four-eyes approval only.
            raise ServiceError(
                "Members cannot be reassigned to a privileged role in bulk.",
                code="reassign_privileged",
                status_code=400,
            )
        grant_guard(actor, organization, role_codes_resolve(reassign_to))
        moved = Membership.objects.filter(role=role).update(role=reassign_to)
        Invitation.objects.filter(role=role).update(role=reassign_to)
    role.delete()
    logger.info("role.deleted", extra={"organization_id": organization.pk, "moved": moved})
    return moved


def _custom_role_organization(role: Role) -> Organization:
    if role.organization is None:
        raise ServiceError(
            "Built-in roles are defined by the catalog and cannot be changed.",
            code="role_builtin",
            status_code=400,
        )
    return role.organization
