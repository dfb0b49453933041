"""The score trend tells two runs of one day apart: each point carries the
time of its run, in the chart's labels and in the table under it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from accounts.services import roles_builtin_ensure
from compliance import charts
from compliance.models import Run
from compliance.reports.data import engine_report_data
from compliance.runs import checks_run
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def _two_runs_on_one_day() -> tuple[str, str]:
    first, second = checks_run(), checks_run()
    day = timezone.localtime().replace(second=0, microsecond=0) - timedelta(days=1)
    morning, afternoon = day.replace(hour=9, minute=5), day.replace(hour=15, minute=40)
    Run.objects.filter(pk=first.pk).update(started_at=morning, finished_at=morning)
    Run.objects.filter(pk=second.pk).update(started_at=afternoon, finished_at=afternoon)
    return morning.strftime("%Y-%m-%d %H:%M"), afternoon.strftime("%Y-%m-%d %H:%M")


def _trend_labels(html: str) -> list[str]:
    figure = html[html.index('id="chart-score-trend"') :].split("</figure>")[0]
    return re.findall(r'<th scope="row">([^<]+)</th>', figure)


def test_dashboard_trend_table_tells_two_runs_of_one_day_apart() -> None:
    operator = OrganizationFactory(slug=settings.OPERATOR_ORGANIZATION_SLUG, is_operator=True)
    user = UserFactory()
    MembershipFactory(user=user, organization=operator, role=roles_builtin_ensure()["member"])
    client = Client()
    client.force_login(user)
    expected = list(_two_runs_on_one_day())

    html = client.get("/dashboard/").content.decode()

    assert _trend_labels(html) == expected


def test_report_trend_table_tells_two_runs_of_one_day_apart() -> None:
    expected = list(_two_runs_on_one_day())
    today = timezone.localdate()

    data = engine_report_data(period_start=today - timedelta(days=7), period_end=today)
    chart = charts.score_trend_chart(data.history)

    assert [row[0] for row in chart.rows] == expected
