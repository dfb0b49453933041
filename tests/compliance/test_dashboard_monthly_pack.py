"""The monthly control status pack: built once per month by beat's daily
call, signed and recorded, and mailed to the compliance officers only."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core import mail

from accounts.services import roles_builtin_ensure
from compliance.dashboard.reporting import previous_month
from compliance.dashboard.tasks import monthly_pack_task
from compliance.models import JobRun, ReportPack
from compliance.reports.services import report_pack_verify
from compliance.runs import checks_run
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(tmp_path: Any, settings: Any) -> None:
    settings.MEDIA_ROOT = tmp_path


def _member(organization: Any, kind: str) -> Any:
    user = UserFactory()
    MembershipFactory(user=user, organization=organization, role=roles_builtin_ensure()[kind])
    return user


def test_previous_month_is_the_last_complete_month() -> None:
    assert previous_month(date(2026, 12, 2)) == (date(2026, 11, 1), date(2026, 11, 30))
    assert previous_month(date(2026, 1, 31)) == (date(2025, 12, 1), date(2025, 12, 31))


def test_monthly_pack_is_sent_once_to_the_compliance_officers() -> None:
    operator = OrganizationFactory(slug=settings.OPERATOR_ORGANIZATION_SLUG, is_operator=True)
    officer = _member(operator, "admin")
    _member(operator, "member")
    _member(operator, "auditor")
    _member(OrganizationFactory(), "admin")

    with time_machine.travel(datetime(2026, 11, 20, 9, tzinfo=UTC), tick=False):
        checks_run()
    with time_machine.travel(datetime(2026, 12, 1, 6, tzinfo=UTC), tick=False):
        pack_id = monthly_pack_task()
        again = monthly_pack_task()

    assert pack_id is not None
    assert again is None
    pack = ReportPack.objects.get(public_id=pack_id)
    assert (pack.kind, pack.period_start, pack.period_end) == (
        ReportPack.Kind.CONTROL_STATUS,
        date(2026, 11, 1),
        date(2026, 11, 30),
    )
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [officer.email]
    name, content, mimetype = message.attachments[0]
    assert mimetype == "application/pdf"
    assert report_pack_verify(content=content).is_valid
    job = JobRun.objects.get(job="compliance.monthly_pack")
    assert (job.slot, job.status, job.counts["recipients"]) == ("2026-11", "done", 1)


def test_a_month_without_a_run_is_marked_and_not_retried() -> None:
    with time_machine.travel(datetime(2026, 12, 1, 6, tzinfo=UTC), tick=False):
        assert monthly_pack_task() is None
        assert monthly_pack_task() is None
    job = JobRun.objects.get(job="compliance.monthly_pack")
    assert job.counts == {"skipped": "no run"}
    assert ReportPack.objects.count() == 0
    assert mail.outbox == []
