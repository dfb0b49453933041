"""Data classification and the access rule each level carries.

Each level names the catalog permission (``accounts/permissions.py``) that
reading data at that level takes, and the authorization service
(``accounts.authorization.user_has_perm``) decides whether a person holds
it, so roles, their parents, expiring memberships, object grants and
terminated users count here exactly as everywhere else. The privacy area
asks it before handing out what it classifies: deletion certificates
(Confidential), retention archives and subject exports (Restricted).
"""

from __future__ import annotations

from typing import Any

from cloudexpress.api.exceptions import ServiceError
from compliance.models import Classification

# The permission reading data at each level takes.
REQUIRED_PERMISSION: dict[str, str | None] = {
    Classification.PUBLIC: None,
    Classification.INTERNAL: "org.view",
    Classification.CONFIDENTIAL: "evidence.view",
    Classification.RESTRICTED: "privacy.manage",
}


def classification_allows(
    user: Any, classification: str, *, owner: Any = None, obj: Any = None
) -> bool:
    """Return whether ``user`` may read data classified ``classification``.

    Public: anyone. Internal: any member. Confidential: evidence readers.
    Restricted: privacy managers, and the person the data is about (``owner``).
    """
    from compliance.privacy.permissions import user_has_permission

    required = REQUIRED_PERMISSION[Classification(classification)]
    if required is None:
        return True
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if owner is not None and getattr(owner, "pk", owner) == user.pk:
        return True
    return user_has_permission(user, required, obj=obj)


def classification_require(
    user: Any, classification: str, *, owner: Any = None, obj: Any = None
) -> None:
    """Raise a 403 ``ServiceError`` unless ``classification_allows``."""
    if not classification_allows(user, classification, owner=owner, obj=obj):
        required = REQUIRED_PERMISSION[Classification(classification)]
        raise ServiceError(
            f"{classification_label(classification)} data needs the permission {required!r}.",
            code="classification_denied",
            status_code=403,
        )


def classification_label(classification: str) -> str:
    return Classification(classification).label
