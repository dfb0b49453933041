"""Reads of the governance registers that aggregate in the database."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from cloudexpress import dbvendor
from compliance.governance import selectors
from tests.compliance import governance_factories as gf

pytestmark = pytest.mark.django_db


def _closed(days_open: float, *, closed_days_ago: float = 1, late: bool = False) -> Any:
    closed_at = gf.days_ago(closed_days_ago)
    due = closed_at.date() + dt.timedelta(days=-1 if late else 0)
    return gf.FindingFactory(
        opened_at=closed_at - dt.timedelta(days=days_open),
        closed_at=closed_at,
        closure_note="Fixed.",
        due_on=due,
    )


def test_finding_closure_kpi_is_aggregated_in_one_query_on_postgresql(
    django_assert_num_queries: Any,
) -> None:
    assert dbvendor.is_postgresql()
    # Closed after 1, 3, 4 and 10.5 days: mean 4.625, median (3 + 4) / 2.
    _closed(1)
    _closed(3, late=True)
    _closed(4, closed_days_ago=20)
    _closed(10.5, late=True)
    # Open findings take no part in either average, however old they are.
    today = timezone.now().date()
    gf.FindingFactory(opened_at=gf.days_ago(400), due_on=today - dt.timedelta(days=1))
    gf.FindingFactory(opened_at=gf.days_ago(2), due_on=today + dt.timedelta(days=5))

    with django_assert_num_queries(1):
        kpi = selectors.finding_closure_kpi()

    assert kpi == {
        "closed": 4,
        "open": 2,
        "open_overdue": 1,
        "mean_days_to_close": 4.6,
        "median_days_to_close": 3.5,
        "closed_on_time": 2,
    }


def test_finding_closure_kpi_counts_findings_opened_since() -> None:
    _closed(6, closed_days_ago=1)
    gf.FindingFactory(opened_at=gf.days_ago(50))

    # Opened 7 days ago: counted since 30 days ago; the open one is older.
    assert selectors.finding_closure_kpi(since=gf.days_ago(30)) == {
        "closed": 1,
        "open": 0,
        "open_overdue": 0,
        "mean_days_to_close": 6.0,
        "median_days_to_close": 6.0,
        "closed_on_time": 1,
    }
    recent = selectors.finding_closure_kpi(since=gf.days_ago(5))
    assert (recent["closed"], recent["open"]) == (0, 0)
    assert recent["mean_days_to_close"] is None and recent["median_days_to_close"] is None
