"""Models of the accounts app, one module per concept."""

from accounts.models.core import (
    Membership,
    Organization,
    Permission,
    Role,
    User,
    UserManager,
    UserSession,
    normalise_email,
)

__all__ = [
    "Membership",
    "Organization",
    "Permission",
    "Role",
    "User",
    "UserManager",
    "UserSession",
    "normalise_email",
]
