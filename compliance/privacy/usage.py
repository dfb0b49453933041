"""API usage per organization, endpoint and day, as billing reads it.

The hot path counts in the cache (an atomic increment in Redis) and writes
to the database at most once per organization, endpoint and day: the
first request of the day creates the row, which is also the index the flush
task walks. The flush moves each counter's value into the row with an
atomic add and takes the same amount off the counter, so requests that
arrive meanwhile are neither lost nor counted twice.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from compliance.models import ApiUsage

logger = logging.getLogger(__name__)

COUNTER_TTL = 3 * 24 * 3600
ORG_TTL = 300


def _counter_key(organization_id: int, endpoint: str, day: date) -> str:
    # Routes hold spaces and brackets; a digest keeps the key portable.
    digest = hashlib.sha256(endpoint.encode()).hexdigest()[:32]
    return f"usage:{day.isoformat()}:{organization_id}:{digest}"


def _organization_for(request: HttpRequest) -> int | None:
    """The organization a request acts for, by the rule the daily API quota
    counts with (``cloudexpress.quotas.organization_id_for_quota``), so that
    billing and the quota agree on the tenant:

    1. the organization a page resolved (``request.organization``), or the
       one an API key belongs to (DRF copies ``request.auth`` here);
    2. the organization the URL names (``orgs/<slug>/...``), whose access
       the view's permissions already checked;
    3. else the caller's first current membership.
    """
    for source in (
        getattr(request, "organization", None),
        getattr(getattr(request, "auth", None), "organization_id", None),
    ):
        if source is not None:
            return int(getattr(source, "pk", source))
    match: Any = getattr(request, "resolver_match", None)
    slug = match.kwargs.get("slug") if match is not None else None
    if slug:
        key = f"usage:org-slug:{slug}"
        cached = cache.get(key)
        if cached is None:
            from accounts.models import Organization

            cached = (
                Organization.objects.filter(slug=slug).values_list("pk", flat=True).first() or 0
            )
            cache.set(key, cached, ORG_TTL)
        if cached:
            return int(cached)
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    key = f"usage:org-of:{user.pk}"
    cached = cache.get(key)
    if cached is None:
        from accounts.models import Membership

        cached = (
            Membership.objects.filter(user=user, status=Membership.Status.ACTIVE)
            .order_by("organization_id")
            .values_list("organization_id", flat=True)
            .first()
        ) or 0
        cache.set(key, cached, ORG_TTL)
    return int(cached) or None


def usage_count(*, organization_id: int, endpoint: str, day: date | None = None) -> None:
    day = day or timezone.now().date()
    key = _counter_key(organization_id, endpoint, day)
    if cache.add(key, 1, COUNTER_TTL):
        # The day's first request for this pair: the one database write.
        ApiUsage.objects.get_or_create(organization_id=organization_id, endpoint=endpoint, day=day)
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, COUNTER_TTL)


def usage_flush(*, days: int = 2) -> int:
    """Move cached counts into ApiUsage rows of the last ``days`` days."""
    since = timezone.now().date() - timedelta(days=days - 1)
    moved = 0
    for row in ApiUsage.objects.filter(day__gte=since).iterator():
        key = _counter_key(row.organization_id, row.endpoint, row.day)
        value = cache.get(key)
        if not value:
            continue
        ApiUsage.objects.filter(pk=row.pk).update(count=F("count") + value)
        cache.decr(key, value)
        moved += value
    logger.info("usage.flushed", extra={"requests": moved})
    return moved


class ApiUsageMiddleware:
    """Count each API request for its organization and URL pattern."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith("/api/"):
            try:
                self._count(request)
            except Exception:  # counting must never fail a request
                logger.warning("usage.count_failed", exc_info=True)
        return response

    def _count(self, request: HttpRequest) -> None:
        match: Any = getattr(request, "resolver_match", None)
        if match is None or not match.route:
            return
        organization_id = _organization_for(request)
        if organization_id is None:
            return
        usage_count(
            organization_id=organization_id, endpoint=f"{request.method} /{match.route}"[:200]
        )
