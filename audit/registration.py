"""Which models the audit trail follows. Many-to-many fields are listed
explicitly: auditlog records them only when told."""

from __future__ import annotations


def register_models() -> None:
    from auditlog.registry import auditlog

    from accounts.models import Membership, Organization, Permission, Role, User

    auditlog.register(
        User,
        exclude_fields=["password", "last_login"],
        m2m_fields={"groups", "user_permissions"},
    )
    auditlog.register(Organization)
    auditlog.register(Permission)
    auditlog.register(Role, m2m_fields={"permissions"})
    auditlog.register(Membership)
