"""Rules of the governance registers' writes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import SecurityEvent
from cloudexpress.api.exceptions import Conflict, ServiceError
from compliance import models
from compliance.governance import selectors, services
from tests.compliance import governance_factories as gf
from tests.compliance.governance_factories import UserFactory

pytestmark = pytest.mark.django_db


def test_policy_version_approved_by_someone_else_becomes_current() -> None:
    policy = gf.PolicyFactory()
    author, approver = UserFactory(), UserFactory()
    version = services.policy_version_draft(policy=policy, author=author, body="v1")

    services.policy_version_approve(version=version, approver=approver)

    policy.refresh_from_db()
    assert policy.current_version == version
    assert policy.last_reviewed_by == approver
    assert services.policy_version_draft(policy=policy, author=author, body="v2").number == 2


def test_policy_author_cannot_approve_own_version() -> None:
    policy = gf.PolicyFactory()
    author = UserFactory()
    version = services.policy_version_draft(policy=policy, author=author, body="v1")

    with pytest.raises(ServiceError) as refused:
        services.policy_version_approve(version=version, approver=author)
    assert refused.value.get_codes() == "self_approval_forbidden"
    assert refused.value.status_code == 403
    version.refresh_from_db()
    assert version.approved_at is None


def test_database_refuses_self_approval_that_bypasses_the_service() -> None:
    author = UserFactory()
    policy = gf.PolicyFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        models.PolicyVersion.objects.create(
            policy=policy, number=1, body="x", author=author, approver=author
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        gf.ChangeFactory(author=author, approver=author)


def test_acknowledging_twice_records_one_acknowledgement() -> None:
    policy = gf.policy_with_version()
    person = UserFactory()
    first = services.policy_acknowledge(policy=policy, user=person)
    second = services.policy_acknowledge(policy=policy, user=person)
    assert first.pk == second.pk
    assert models.PolicyAcknowledgement.objects.filter(user=person).count() == 1


def test_acknowledging_a_policy_without_approved_version_is_refused() -> None:
    with pytest.raises(Conflict) as refused:
        services.policy_acknowledge(policy=gf.PolicyFactory(), user=UserFactory())
    assert refused.value.get_codes() == "no_current_version"


def test_change_approved_by_another_person() -> None:
    change = gf.ChangeFactory()
    approver = UserFactory()
    services.change_request_approve(change=change, approver=approver)
    change.refresh_from_db()
    assert change.status == models.ChangeRequest.Status.APPROVED
    assert change.approver == approver and change.approved_at is not None


def test_change_author_cannot_approve_own_change() -> None:
    change = gf.ChangeFactory()
    with pytest.raises(ServiceError) as refused:
        services.change_request_approve(change=change, approver=change.author)
    assert refused.value.get_codes() == "self_approval_forbidden"
    change.refresh_from_db()
    assert change.status == models.ChangeRequest.Status.SUBMITTED
    assert change.approver is None

    # The attempt is on the security record, approvals are too.
    denied = SecurityEvent.objects.get(event_type=SecurityEvent.Type.PERMISSION_DENIED)
    assert denied.actor_id == change.author_id
    assert denied.detail == {
        "reason": "self_approval",
        "object": "change",
        "id": str(change.public_id),
    }
    services.change_request_approve(change=change, approver=UserFactory())
    assert SecurityEvent.objects.filter(
        event_type=SecurityEvent.Type.APPROVAL_GRANTED, detail__id=str(change.public_id)
    ).exists()


def test_deployment_is_recorded_once_per_pipeline_run() -> None:
    change = gf.ChangeFactory()
    services.change_request_approve(change=change, approver=UserFactory())
    change.refresh_from_db()
    ci = UserFactory()

    first, created = services.deployment_record(
        change=change, recorded_by=ci, commit="abc123", pipeline_run="run-7"
    )
    again, created_again = services.deployment_record(
        change=change, recorded_by=ci, commit="abc123", pipeline_run="run-7"
    )
    assert created and not created_again
    assert first.pk == again.pk
    assert models.Deployment.objects.count() == 1


def test_deployment_against_unapproved_change_is_refused() -> None:
    change = gf.ChangeFactory()
    with pytest.raises(Conflict) as refused:
        services.deployment_record(change=change, recorded_by=UserFactory())
    assert refused.value.get_codes() == "change_not_approved"
    assert models.Deployment.objects.count() == 0


def test_deployment_dated_before_approval_is_refused() -> None:
    change = gf.ChangeFactory()
    services.change_request_approve(change=change, approver=UserFactory())
    change.refresh_from_db()
    with pytest.raises(Conflict) as refused:
        services.deployment_record(
            change=change,
            recorded_by=UserFactory(),
            deployed_at=change.approved_at - dt.timedelta(minutes=1),
        )
    assert refused.value.get_codes() == "deployed_before_approval"


def test_vendor_report_keeps_the_sha256_of_its_file() -> None:
    vendor = gf.VendorFactory()
    today = timezone.now().date()
    report = services.vendor_report_attach(
        vendor=vendor,
        kind="soc2_type2",
        file=SimpleUploadedFile("soc2.pdf", b"%PDF-1.7 report"),
        issued_on=today,
        expires_on=today + dt.timedelta(days=365),
    )
    import hashlib

    assert report.sha256 == hashlib.sha256(b"%PDF-1.7 report").hexdigest()
    report.file.delete()


def test_training_sync_assigns_on_joining_and_by_role_once() -> None:
    onboarding = gf.TrainingModuleFactory(assign_on_joining=True, due_days=30)
    admin_only = gf.TrainingModuleFactory(kind="role_specific")
    from tests.factories import builtin_role

    admin_only.roles.add(builtin_role("admin"))
    gf.member(role="member")
    boss = gf.member(role="admin")

    assert services.training_assignments_sync() == 3
    assert services.training_assignments_sync() == 0
    assert models.TrainingAssignment.objects.filter(module=onboarding).count() == 2
    assert list(
        models.TrainingAssignment.objects.filter(module=admin_only).values_list("user", flat=True)
    ) == [boss.user_id]
    due = models.TrainingAssignment.objects.get(module=onboarding, user=boss.user).due_at
    assert due == boss.created_at + dt.timedelta(days=30)


def test_completing_training_closes_the_open_assignment() -> None:
    module = gf.TrainingModuleFactory(assign_on_joining=True)
    person = gf.member()
    services.training_assignments_sync()
    services.training_complete(module=module, user=person.user)
    assert not selectors.training_overdue_assignments(
        now=timezone.now() + dt.timedelta(days=90)
    ).exists()


def test_refresher_is_reassigned_a_year_after_completion() -> None:
    refresher = gf.TrainingModuleFactory(
        kind="annual_refresher", assign_on_joining=True, recurrence_days=365
    )
    person = gf.member(joined=gf.days_ago(400))
    done = gf.days_ago(300)
    services.training_complete(module=refresher, user=person.user, completed_at=done)

    services.training_assignments_sync()
    assignment = models.TrainingAssignment.objects.get(completed_at=None)
    assert assignment.reason == models.TrainingAssignment.Reason.RECURRENCE
    assert assignment.due_at == done + dt.timedelta(days=365)


def test_finding_closure_needs_a_note_and_feeds_the_kpi() -> None:
    finding = gf.FindingFactory(opened_at=gf.days_ago(10))
    gf.FindingFactory(due_on=timezone.now().date() - dt.timedelta(days=1))  # open, overdue

    with pytest.raises(ServiceError):
        services.finding_close(finding=finding, note=" ")
    services.finding_close(finding=finding, note="Fixed the rule.")

    kpi = selectors.finding_closure_kpi()
    assert kpi["closed"] == 1 and kpi["open"] == 1 and kpi["open_overdue"] == 1
    assert kpi["mean_days_to_close"] == pytest.approx(10.0, abs=0.1)
    assert kpi["closed_on_time"] == 1


def test_heatmap_counts_open_risks_per_cell() -> None:
    gf.RiskFactory(likelihood=5, impact=4)
    gf.RiskFactory(likelihood=5, impact=4)
    gf.RiskFactory(likelihood=1, impact=2)
    gf.RiskFactory(likelihood=3, impact=3, status=models.Risk.Status.CLOSED)

    heatmap = selectors.risk_heatmap()
    assert heatmap["total"] == 3
    assert heatmap["cells"][4][3] == 2
    assert heatmap["cells"][0][1] == 1
    assert heatmap["cells"][2][2] == 0
    assert sum(map(sum, heatmap["cells"])) == 3
    top_row = selectors.risk_heatmap_rows()[0]
    assert top_row["likelihood"] == 5
    assert top_row["cells"][3] == {"count": 2, "band": "high"}
