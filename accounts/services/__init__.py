"""Writes of the accounts app, one module per concept, re-exported here."""

from accounts.services.approvals import (
    approval_approve,
    approval_cancel,
    approval_execute,
    approval_executor_register,
    approval_refuse,
    approval_request_create,
)
from accounts.services.grants import object_permission_grant, object_permission_revoke
from accounts.services.invitations import (
    invitation_accept,
    invitation_revoke,
    invitation_send,
    invitations_expire,
)
from accounts.services.memberships import (
    membership_create,
    membership_role_apply,
    membership_role_change,
    memberships_expire,
)
from accounts.services.reviews import (
    access_review_campaign_start,
    access_review_item_decide,
    access_review_reminders_send,
    access_reviews_quarter_start,
)
from accounts.services.roles import (
    permission_catalog_sync,
    role_create,
    role_delete,
    role_update,
    roles_builtin_ensure,
)
from accounts.services.termination import (
    membership_end,
    membership_remove,
    organization_close,
    sessions_revoke,
    user_terminate,
)

__all__ = [
    "access_review_campaign_start",
    "access_review_item_decide",
    "access_review_reminders_send",
    "access_reviews_quarter_start",
    "approval_approve",
    "approval_cancel",
    "approval_execute",
    "approval_executor_register",
    "approval_refuse",
    "approval_request_create",
    "invitation_accept",
    "invitation_revoke",
    "invitation_send",
    "invitations_expire",
    "membership_create",
    "membership_end",
    "membership_remove",
    "organization_close",
    "membership_role_apply",
    "membership_role_change",
    "memberships_expire",
    "object_permission_grant",
    "object_permission_revoke",
    "permission_catalog_sync",
    "role_create",
    "role_delete",
    "role_update",
    "roles_builtin_ensure",
    "sessions_revoke",
    "user_terminate",
]
