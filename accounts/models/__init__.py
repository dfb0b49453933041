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
from accounts.models.credentials import (
    ApiKey,
    BackupCode,
    IpAllowlistEntry,
    OrganizationAccessPolicy,
    PasswordHistory,
    RefreshRecord,
    TokenFamily,
    TOTPDevice,
)

__all__ = [
    "ApiKey",
    "BackupCode",
    "IpAllowlistEntry",
    "OrganizationAccessPolicy",
    "PasswordHistory",
    "RefreshRecord",
    "TOTPDevice",
    "TokenFamily",
    "Membership",
    "Organization",
    "Permission",
    "Role",
    "User",
    "UserManager",
    "UserSession",
    "normalise_email",
]
