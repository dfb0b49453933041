"""Reads of the reports."""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from compliance.models import ReportPack


def report_packs_recent(*, limit: int = 50) -> QuerySet[ReportPack]:
    return ReportPack.objects.select_related("requested_by").order_by("-created_at")[:limit]


def report_period_default(today: date | None = None) -> tuple[date, date]:
    """The last full quarter's worth of days, ending today."""
    today = today or timezone.now().date()
    return today - timedelta(days=90), today
