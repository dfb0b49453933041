"""Which accounts models (beyond the foundation's, registered in
audit.registration) the audit trail follows."""

from __future__ import annotations


def register_models() -> None:
    from auditlog.registry import auditlog

    from accounts.models import (
        AccessReviewCampaign,
        AccessReviewItem,
        ApiKey,
        ApprovalRequest,
        Invitation,
        IpAllowlistEntry,
        ObjectPermissionGrant,
        OrganizationAccessPolicy,
    )

    # None of these has a many-to-many field; each is listed empty on purpose
    # so a field added later is a visible decision.
    auditlog.register(ObjectPermissionGrant, m2m_fields=set())
    # The token hash is a credential: it never enters the trail.
    auditlog.register(Invitation, exclude_fields=["token_hash"], m2m_fields=set())
    auditlog.register(ApprovalRequest, m2m_fields=set())
    auditlog.register(AccessReviewCampaign, m2m_fields=set())
    auditlog.register(AccessReviewItem, m2m_fields=set())
    # Who may reach the API from where is access configuration; the key's
    # hash is a credential and never enters the trail.
    auditlog.register(ApiKey, exclude_fields=["secret_hash"], m2m_fields=set())
    auditlog.register(IpAllowlistEntry, m2m_fields=set())
    auditlog.register(OrganizationAccessPolicy, m2m_fields=set())
