"""Due-date reminders: by window, once, catching up after a missed run."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.core import mail
from django.db import connection

from compliance import models
from compliance.governance import services
from compliance.governance.tasks import governance_reminders_task
from tests.compliance import governance_factories as gf
from tests.compliance.governance_factories import UserFactory

START = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)


def _register_with_due_dates() -> dict[str, object]:
    """One item of each kind, due at various distances from START."""
    owner = UserFactory(email="owner@example.test")
    policy = gf.policy_with_version(owner=owner)
    models.Policy.objects.filter(pk=policy.pk).update(
        last_reviewed_at=START - dt.timedelta(days=370)  # overdue
    )
    vendor = gf.VendorFactory(owner=owner)
    models.VendorAssessment.objects.create(
        vendor=vendor, assessor=owner, risk_rating="low", assessed_at=START - dt.timedelta(days=10)
    )
    agreement = models.VendorAgreement.objects.create(
        vendor=vendor,
        kind="contract",
        signed_on=START.date() - dt.timedelta(days=355),
        renewal_on=START.date() + dt.timedelta(days=10),  # inside the 14-day window
    )
    risk = gf.RiskFactory(owner=owner, last_reviewed_at=START - dt.timedelta(days=10))
    finding = gf.FindingFactory(owner=owner, due_on=START.date() + dt.timedelta(days=30))
    learner = UserFactory(email="learner@example.test")
    assignment = models.TrainingAssignment.objects.create(
        module=gf.TrainingModuleFactory(),
        user=learner,
        reason="joining",
        due_at=START - dt.timedelta(days=2),  # overdue
    )
    return {
        "policy": policy,
        "agreement": agreement,
        "risk": risk,
        "finding": finding,
        "assignment": assignment,
    }


def _subjects() -> list[str]:
    return sorted(message.subject for message in mail.outbox)


@pytest.mark.django_db
def test_overdue_reminders_are_sent_once_per_item() -> None:
    with time_machine.travel(START, tick=False):
        items = _register_with_due_dates()
        first = services.governance_reminders_send()
        second = services.governance_reminders_send()

    # Policy review overdue, training overdue, agreement due in 10 days;
    # the finding (30 days) and the risk (80 days) are outside the window,
    # and so is the vendor review (355 days).
    assert first["sent"] == 3
    assert second["sent"] == 0 and second["due"] == 0
    assert len(mail.outbox) == 3
    assert _subjects() == [
        "[CloudExpress] Due soon: Renew the Contract with " + items["agreement"].vendor.name,
        "[CloudExpress] Overdue: Complete the training: " + items["assignment"].module.title,
        "[CloudExpress] Overdue: Review the " + items["policy"].title,
    ]
    recipients = sorted(message.to[0] for message in mail.outbox)
    assert recipients == ["learner@example.test", "owner@example.test", "owner@example.test"]
    assert models.Reminder.objects.count() == 3


@pytest.mark.django_db
def test_a_missed_run_catches_up_and_sends_nothing_twice() -> None:
    with time_machine.travel(START, tick=False):
        items = _register_with_due_dates()
        services.governance_reminders_send()
    assert len(mail.outbox) == 3

    # No run for 40 days: the finding fell due meanwhile and is caught up,
    # the earlier reminders are not repeated.
    with time_machine.travel(START + dt.timedelta(days=40), tick=False):
        services.governance_reminders_send()
        services.governance_reminders_send()
    assert len(mail.outbox) == 4
    assert mail.outbox[3].subject == (
        "[CloudExpress] Overdue: Close the audit finding: " + items["finding"].title
    )


@pytest.mark.django_db
def test_a_new_due_date_earns_a_new_reminder() -> None:
    with time_machine.travel(START, tick=False):
        items = _register_with_due_dates()
        services.governance_reminders_send()
    assert len(mail.outbox) == 3

    policy = items["policy"]
    with time_machine.travel(START + dt.timedelta(days=1), tick=False):
        services.policy_review_record(policy=policy, reviewer=UserFactory())
    with time_machine.travel(START + dt.timedelta(days=360), tick=False):
        services.governance_reminders_send()
    policy_mails = [m for m in mail.outbox if policy.title in m.subject]
    assert len(policy_mails) == 2
    dues = sorted(
        models.Reminder.objects.filter(kind="policy_review").values_list("due_on", flat=True)
    )
    assert dues == [
        (START - dt.timedelta(days=5)).date(),
        (START + dt.timedelta(days=366)).date(),
    ]


@pytest.mark.django_db
def test_a_failed_mail_is_retried_on_the_next_run(monkeypatch: pytest.MonkeyPatch) -> None:
    with time_machine.travel(START, tick=False):
        _register_with_due_dates()
        from compliance.governance import services as module

        def refuse(**kwargs: object) -> int:
            raise ConnectionError("mail server down")

        monkeypatch.setattr(module, "send_mail", refuse)
        with pytest.raises(ConnectionError):
            services.governance_reminders_run()
        assert models.Reminder.objects.count() == 0
        failed = models.JobRun.objects.get(job="governance_reminders")
        assert failed.status == models.JobRun.Status.FAILED
        assert failed.error == "ConnectionError"

        monkeypatch.undo()
        services.governance_reminders_send()
    assert len(mail.outbox) == 3


@pytest.mark.django_db
def test_the_beat_task_assigns_training_and_sends_reminders() -> None:
    with time_machine.travel(START, tick=False):
        gf.TrainingModuleFactory(assign_on_joining=True, due_days=7)
        gf.member(joined=START - dt.timedelta(days=20), email="new@example.test")
        counts = governance_reminders_task.apply().get()
        again = governance_reminders_task.apply().get()
    assert counts["sent"] == 1 and again["sent"] == 0
    assert counts["training_assigned"] == 1 and again["training_assigned"] == 0
    assert mail.outbox[0].to == ["new@example.test"]
    runs = models.JobRun.objects.filter(job="governance_reminders")
    assert runs.count() == 2
    assert {run.status for run in runs} == {models.JobRun.Status.DONE}


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_send_each_reminder_exactly_once() -> None:
    barrier = threading.Barrier(3)
    results: list[dict[str, int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        # Each thread has its own database connection.
        try:
            barrier.wait(timeout=10)
            results.append(services.governance_reminders_send())
        except BaseException as exc:  # reported below, not swallowed
            errors.append(exc)
        finally:
            connection.close()

    # time-machine patches the clock for the whole process, threads included.
    with time_machine.travel(START, tick=False):
        _register_with_due_dates()
        threads = [threading.Thread(target=run) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert errors == []
    assert len(results) == 3
    assert sum(r["sent"] for r in results) == 3
    assert models.Reminder.objects.count() == 3
    assert len(mail.outbox) == 3
