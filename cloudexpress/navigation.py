"""The main navigation: which entries a user is shown.

Each entry names the permission its page requires, read from the module
that guards the page, so the menu and the page cannot disagree. A user is
shown an entry only when the authorization service would open the page:
links that answer 403 are clutter, and each click on one records a
permission denial that detection counts against the user.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse

from accounts.authorization import user_has_perm


@dataclass(frozen=True)
class NavEntry:
    label: str
    url_name: str
    # Any one of these opens the page; none means every signed-in user.
    permissions: tuple[str, ...] = ()
    # Shown to visitors who have not signed in.
    public: bool = False


@dataclass(frozen=True)
class NavLink:
    label: str
    url: str


def nav_entries() -> tuple[NavEntry, ...]:
    """Every entry, in menu order, with the permission its view requires."""
    from audit.selectors import AUDIT_LOG_VIEW, SECURITY_EVENTS_VIEW
    from cloudexpress.views import OPERATIONS_PERMISSION
    from compliance.dashboard.evidence_views import VIEW_PERMISSION as EVIDENCE_VIEW
    from compliance.dashboard.views import VIEW_PERMISSION as DASHBOARD_VIEW
    from compliance.governance.permissions import MANAGE as GOVERNANCE_MANAGE
    from compliance.governance.permissions import VIEW as GOVERNANCE_VIEW
    from compliance.reports.access import PERMISSION as REPORTS_EXPORT
    from compliance.selectors import VIEW_PERMISSION as COMPLIANCE_VIEW

    return (
        NavEntry("Home", "home", public=True),
        NavEntry("Organizations", "orgs:list"),
        NavEntry("Compliance", "compliance-overview", (COMPLIANCE_VIEW,)),
        # The registers open to those who manage them as well as to readers.
        NavEntry("Governance", "governance-index", (GOVERNANCE_VIEW, GOVERNANCE_MANAGE)),
        # audit:index redirects to the audit log, which needs audit_log.view.
        NavEntry("Audit trail", "audit:index", (AUDIT_LOG_VIEW,)),
        NavEntry("Alerts", "security-alerts", (SECURITY_EVENTS_VIEW,)),
        NavEntry("Reports", "reports:overview", (REPORTS_EXPORT,)),
        NavEntry("My data", "privacy-profile"),
        NavEntry("Sessions", "auth_sessions"),
        NavEntry("Password policy", "auth_password_policy"),
        NavEntry("Dashboard", "dashboard", (DASHBOARD_VIEW,)),
        NavEntry("Evidence", "evidence-room", (EVIDENCE_VIEW,)),
        NavEntry("Operations", "operations", (OPERATIONS_PERMISSION,)),
        NavEntry("API", "api-docs", public=True),
        NavEntry("Contacts", "contacts", public=True),
    )


def nav_entry_allowed(user: Any, entry: NavEntry) -> bool:
    """Whether ``user`` may open the entry's page.

    Asked of the authorization service without recording a denial: showing
    a menu is no attempt. Every check reads the per-request snapshot, so the
    menu adds no query once the snapshot is loaded.
    """
    if entry.public:
        return True
    if not getattr(user, "is_authenticated", False):
        return False
    if not entry.permissions:
        return True
    return any(user_has_perm(user, code, record_denial=False) for code in entry.permissions)


@functools.lru_cache(maxsize=256)
def _address(url_name: str, prefix: str, root_urlconf: str, urlconf: str | None) -> str:
    return reverse(url_name, urlconf=urlconf)


def nav_links_for(user: Any) -> list[NavLink]:
    """The entries ``user`` is shown, with their addresses.

    The addresses take no arguments, so each is worked out once per URL
    configuration and prefix (reversing all of them was most of the menu's
    cost on every page)."""
    key = (get_script_prefix(), settings.ROOT_URLCONF, get_urlconf())
    return [
        NavLink(entry.label, _address(entry.url_name, *key))
        for entry in nav_entries()
        if nav_entry_allowed(user, entry)
    ]
