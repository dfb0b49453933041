"""Data classification and the access rule each level carries.

TODO(authz): the authorization service enforces these rules on evidence and
documents once it exists; this helper is what it calls, and what exports
already print.
"""

from __future__ import annotations

from typing import Any

from compliance.models import Classification

# The permission a non-staff user needs to read data at each level.
REQUIRED_PERMISSION: dict[str, str | None] = {
    Classification.PUBLIC: None,
    Classification.INTERNAL: "org.view",
    Classification.CONFIDENTIAL: "evidence.view",
    Classification.RESTRICTED: "privacy.manage",
}


def classification_allows(user: Any, classification: str, *, owner: Any = None) -> bool:
    """Return whether ``user`` may read data classified ``classification``.

    Public: anyone. Internal: any signed-in member. Confidential: evidence
    readers. Restricted: privacy managers, and the person the data is about.
    """
    from compliance.privacy.permissions import user_has_permission

    required = REQUIRED_PERMISSION[Classification(classification)]
    if required is None:
        return True
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if owner is not None and getattr(owner, "pk", owner) == user.pk:
        return True
    return user_has_permission(user, required)


def classification_label(classification: str) -> str:
    return Classification(classification).label
