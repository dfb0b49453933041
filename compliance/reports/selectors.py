"""Reads of the reports."""

from __future__ import annotations

from django.db.models import QuerySet

from compliance.models import ReportPack


def report_packs_recent(*, limit: int = 50) -> QuerySet[ReportPack]:
    return ReportPack.objects.select_related("requested_by").order_by("-created_at")[:limit]
