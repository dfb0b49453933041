"""Per-organization API quotas: a number of API calls per UTC day.

A DRF throttle so every API view counts without opting in. The count lives
in the cache (Redis in production) under one key per organization and day;
``incr`` is atomic there, so concurrent web replicas share one count.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

# Kept a little longer than a day so a key never expires before its day ends.
_KEY_TIMEOUT = int(timedelta(days=2).total_seconds())


class QuotaExceeded(Throttled):
    default_code = "quota_exceeded"

    def __init__(self, wait: float) -> None:
        super().__init__(
            wait=wait,
            detail="Your organization has used its API calls for today.",
            code="quota_exceeded",
        )


def organization_id_for_quota(request: Request, view: Any) -> int | None:
    """The organization an API call counts against: the one the URL names
    (already resolved and checked by the view's permissions, which DRF runs
    before throttles), else the caller's first current membership; None for
    a caller without one, who has nothing to count against."""
    getter = getattr(view, "get_organization", None)
    if getter is not None and "slug" in getattr(view, "kwargs", {}):
        organization = getter()
        if organization is not None:
            return int(organization.pk)

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    cached = getattr(request, "_quota_organization_id", False)
    if cached is not False:
        return cached
    from accounts.models import Membership

    organization_id = (
        Membership.objects.filter(user=user, status=Membership.Status.ACTIVE)
        .order_by("organization_id")
        .values_list("organization_id", flat=True)
        .first()
    )
    request._quota_organization_id = organization_id  # type: ignore[attr-defined]
    return organization_id


def quota_usage(organization_id: int, *, now: datetime | None = None) -> int:
    """How many API calls the organization made today (UTC)."""
    return int(cache.get(_key(organization_id, now or datetime.now(UTC))) or 0)


def _key(organization_id: int, now: datetime) -> str:
    return f"quota:api:{organization_id}:{now:%Y%m%d}"


class OrganizationDailyQuota(BaseThrottle):
    """Refuse an organization's API calls beyond ``ORG_API_DAILY_QUOTA`` per
    UTC day with 429 ``quota_exceeded``; 0 turns the quota off."""

    def allow_request(self, request: Request, view: Any) -> bool:
        limit = int(getattr(settings, "ORG_API_DAILY_QUOTA", 0))
        if limit <= 0:
            return True
        organization_id = organization_id_for_quota(request, view)
        if organization_id is None:
            return True

        now = datetime.now(UTC)
        key = _key(organization_id, now)
        cache.add(key, 0, timeout=_KEY_TIMEOUT)
        count = cache.incr(key)
        if count <= limit:
            return True

        tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        if count == limit + 1:
            # Once per organization and day, not on every refused call.
            logger.warning(
                "quota.api_exceeded",
                extra={"organization_id": organization_id, "limit": limit},
            )
        raise QuotaExceeded(wait=(tomorrow - now).total_seconds())
