"""The data inventory's review on a schedule: attested for the inventory as
it stands, reviewed by a second person, reminded before it falls due, and
failing its check once overdue or out of date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from audit.models import Notification
from cloudexpress.beat import BEAT_SCHEDULE
from compliance import attestations
from compliance.checks import registry
from compliance.models import ResultStatus
from compliance.privacy import inventory
from compliance.privacy.tasks import privacy_inventory_review_remind_task
from tests import factories

pytestmark = pytest.mark.django_db

START = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)


def _status() -> str:
    return registry.evaluate(registry.get("p-inventory-reviewed")).outcome.status


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def test_the_review_passes_when_attested_and_reviewed_and_fails_once_overdue() -> None:
    owner, reviewer = factories.UserFactory(), factories.UserFactory()
    with time_machine.travel(START, tick=False):
        assert _status() == ResultStatus.FAIL  # never reviewed
        item = inventory.inventory_review_attest(attested_by=owner)
        assert _status() == ResultStatus.FAIL  # not yet reviewed by a second person
        attestations.attestation_review(attestation=item, reviewer=reviewer)
        assert _status() == ResultStatus.PASS

    with time_machine.travel(START + timedelta(days=inventory.REVIEW_DAYS - 1), tick=False):
        assert _status() == ResultStatus.PASS
    with time_machine.travel(START + timedelta(days=inventory.REVIEW_DAYS + 1), tick=False):
        assert _status() == ResultStatus.FAIL


def test_a_changed_inventory_needs_a_new_review(monkeypatch) -> None:
    with time_machine.travel(START, tick=False):
        item = inventory.inventory_review_attest(attested_by=factories.UserFactory())
        attestations.attestation_review(attestation=item, reviewer=factories.UserFactory())
        assert _status() == ResultStatus.PASS
        monkeypatch.setattr(
            inventory,
            "INVENTORY",
            (*inventory.INVENTORY, inventory.PersonalField("x.Y.z", "p", "consent", "1 year")),
        )
        outcome = registry.evaluate(registry.get("p-inventory-reviewed")).outcome
        assert outcome.status == ResultStatus.FAIL
        assert any("older inventory" in item for item in outcome.failing)


def test_the_daily_job_reminds_the_reviewer_a_month_ahead_once_a_day() -> None:
    owner = factories.UserFactory()
    assert BEAT_SCHEDULE["privacy-inventory-review"]["task"] == (
        privacy_inventory_review_remind_task.name
    )
    with time_machine.travel(START, tick=False):
        item = inventory.inventory_review_attest(attested_by=owner)
        attestations.attestation_review(attestation=item, reviewer=factories.UserFactory())
        assert privacy_inventory_review_remind_task.apply().get() == 0  # far from due

    due_soon = START + timedelta(days=inventory.REVIEW_DAYS - 10)
    with time_machine.travel(due_soon, tick=False):
        assert privacy_inventory_review_remind_task.apply().get() == 1
        assert privacy_inventory_review_remind_task.apply().get() == 0  # same day
    with time_machine.travel(due_soon + timedelta(days=1), tick=False):
        assert privacy_inventory_review_remind_task.apply().get() == 1
    assert Notification.objects.filter(recipient=owner).count() == 2
