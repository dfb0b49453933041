"""Models of the accounts app, one module per concept."""

from accounts.models.approvals import ApprovalRequest
from accounts.models.core import (
    Membership,
    Organization,
    Permission,
    Role,
    RoleGraphStamp,
    User,
    UserManager,
    UserSession,
    normalise_email,
)
from accounts.models.credentials import (
    ApiKey,
    BackupCode,
    IpAllowlistEntry,
    LockoutEpisode,
    OrganizationAccessPolicy,
    PasswordHistory,
    RefreshRecord,
    TokenFamily,
    TOTPDevice,
)
from accounts.models.grants import ObjectPermissionGrant
from accounts.models.invitations import Invitation
from accounts.models.reviews import AccessReviewCampaign, AccessReviewItem, AccessReviewReminder

__all__ = [
    "ApiKey",
    "BackupCode",
    "IpAllowlistEntry",
    "LockoutEpisode",
    "OrganizationAccessPolicy",
    "PasswordHistory",
    "RefreshRecord",
    "TOTPDevice",
    "TokenFamily",
    "AccessReviewCampaign",
    "AccessReviewItem",
    "AccessReviewReminder",
    "ApprovalRequest",
    "Invitation",
    "Membership",
    "ObjectPermissionGrant",
    "Organization",
    "Permission",
    "Role",
    "RoleGraphStamp",
    "User",
    "UserManager",
    "UserSession",
    "normalise_email",
]
