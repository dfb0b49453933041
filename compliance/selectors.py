"""Reads of the compliance engine, shared by pages, API, tasks and commands."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from compliance.models import JobRun


def home_summary() -> dict[str, Any]:
    from accounts.models import Membership, Organization, User

    organizations = Organization.objects.aggregate(
        total=Count("id"), operators=Count("id", filter=Q(is_operator=True))
    )
    return {
        "organizations": organizations["total"],
        "users": User.objects.filter(terminated_at=None).count(),
        "memberships": Membership.objects.filter(status=Membership.Status.ACTIVE).count(),
        "last_heartbeat": JobRun.objects.filter(job="heartbeat").order_by("-started_at").first(),
    }
