"""The permission catalog, in the domain's words, and what each built-in
role holds. Inheritance is explicit: Admin holds Member's permissions and its
own; Owner holds Admin's and its own."""

from __future__ import annotations

CATALOG: dict[str, str] = {
    "org.view": "See the organization and its members",
    "members.invite": "Invite people to the organization",
    "members.manage": "Change members' roles and remove members",
    "roles.manage": "Create, change and delete custom roles",
    "access_reviews.manage": "Run access-review campaigns and decide review items",
    "api_keys.manage": "Create and revoke service API keys",
    "ip_allowlist.manage": "Change the organization's IP allowlist",
    "approvals.decide": "Approve or refuse critical operations requested by others",
    "security_events.view": "See security events and alerts",
    "security_events.ingest": "Send external security events to the ingest endpoint",
    "audit_log.view": "See the audit trail",
    "incidents.manage": "Open and run incidents",
    "controls.view": "See controls, checks and results",
    "controls.manage": "Edit controls and run checks",
    "evidence.view": "Browse evidence",
    "evidence.upload": "Upload evidence and attestations",
    "reports.export": "Export PDF and CSV reports",
    "retention.view": "See retention policies and runs",
    "retention.execute": "Run retention by hand",
    "privacy.manage": "Handle data-subject requests, export and erasure",
    "keys.rotate": "Rotate encryption keys",
    "settings.manage": "Change organization settings",
    "org.delete": "Delete the organization",
    "ownership.transfer": "Transfer ownership of the organization",
}

MEMBER = frozenset({"org.view", "controls.view"})
AUDITOR = frozenset(
    {
        "org.view",
        "controls.view",
        "evidence.view",
        "audit_log.view",
        "security_events.view",
        "reports.export",
        "retention.view",
    }
)
# Ingest can fabricate events about any account, so no built-in role holds
# it: staff or a custom role granted on purpose.
ADMIN_OWN = frozenset(
    set(CATALOG) - {"org.delete", "ownership.transfer", "security_events.ingest"} - MEMBER
)
OWNER_OWN = frozenset({"org.delete", "ownership.transfer"})

# name, kind, parent kind, own permissions
BUILTIN_ROLES: tuple[tuple[str, str, str | None, frozenset[str]], ...] = (
    ("Member", "member", None, MEMBER),
    ("Admin", "admin", "member", ADMIN_OWN),
    ("Owner", "owner", "admin", OWNER_OWN),
    ("Auditor", "auditor", None, AUDITOR),
)
