"""Every governance check: break its control and see it fail, mend it and
see it pass."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Membership
from compliance import models
from compliance.governance import checks
from tests.compliance import governance_factories as gf
from tests.compliance.governance_factories import UserFactory

pytestmark = pytest.mark.django_db


def today() -> dt.date:
    return timezone.now().date()


# --- Policies ----------------------------------------------------------------


def test_policy_review_check_fails_on_stale_review_and_passes_once_reviewed() -> None:
    policy = gf.policy_with_version(reviewed_days_ago=400)
    gf.policy_with_version(reviewed_days_ago=20)

    result = checks.policies_reviewed_within_12_months()
    assert result.status == "fail"
    assert [f["policy"] for f in result.failing] == [str(policy.public_id)]
    assert result.failing[0]["reason"] == "last review older than 12 months"

    policy.last_reviewed_at = timezone.now()
    policy.save()
    result = checks.policies_reviewed_within_12_months()
    assert result.status == "pass"
    assert result.evidence["policies"] == 2


def test_policy_review_check_fails_on_empty_register_and_unapproved_policy() -> None:
    assert checks.policies_reviewed_within_12_months().status == "fail"

    gf.PolicyFactory()
    result = checks.policies_reviewed_within_12_months()
    assert result.status == "fail"
    assert result.failing[0]["reason"] == "no approved version"


def test_acknowledgement_check_fails_for_member_without_ack_and_passes_after() -> None:
    policy = gf.policy_with_version()
    gf.policy_with_version(required=False)
    acked = gf.member()
    missing = gf.member()
    models.PolicyAcknowledgement.objects.create(version=policy.current_version, user=acked.user)

    result = checks.policies_acknowledged_by_active_members()
    assert result.status == "fail"
    assert [f["user"] for f in result.failing] == [str(missing.user.public_id)]

    models.PolicyAcknowledgement.objects.create(version=policy.current_version, user=missing.user)
    assert checks.policies_acknowledged_by_active_members().status == "pass"


def test_acknowledgement_of_an_old_version_does_not_count() -> None:
    policy = gf.policy_with_version()
    person = gf.member()
    models.PolicyAcknowledgement.objects.create(version=policy.current_version, user=person.user)
    assert checks.policies_acknowledged_by_active_members().status == "pass"

    newer = models.PolicyVersion.objects.create(
        policy=policy, number=2, body="New text.", author=policy.owner, approver=UserFactory()
    )
    policy.current_version = newer
    policy.save()
    assert checks.policies_acknowledged_by_active_members().status == "fail"


def test_acknowledgement_check_ignores_suspended_and_other_tenants_members() -> None:
    gf.policy_with_version()
    suspended = gf.member()
    suspended.status = Membership.Status.SUSPENDED
    suspended.save()
    from tests.factories import MembershipFactory

    MembershipFactory(user=UserFactory())  # a customer tenant's member

    # Nobody in the operator's workforce is active: nothing to acknowledge.
    assert checks.policies_acknowledged_by_active_members().status == "not_applicable"

    suspended.status = Membership.Status.ACTIVE
    suspended.save()
    assert checks.policies_acknowledged_by_active_members().status == "fail"


# --- Training ----------------------------------------------------------------


def test_onboarding_check_fails_after_30_days_without_training_and_passes_when_done() -> None:
    module = gf.TrainingModuleFactory(kind=models.TrainingModule.Kind.ONBOARDING)
    late = gf.member(joined=gf.days_ago(45))
    gf.member(joined=gf.days_ago(3))  # still inside the 30 days

    result = checks.training_onboarding_within_30_days()
    assert result.status == "fail"
    assert [f["user"] for f in result.failing] == [str(late.user.public_id)]
    assert result.evidence["within_grace_period"] == 1

    models.TrainingCompletion.objects.create(
        module=module, user=late.user, completed_at=gf.days_ago(40)
    )
    assert checks.training_onboarding_within_30_days().status == "pass"


def test_onboarding_completed_after_the_deadline_still_fails() -> None:
    module = gf.TrainingModuleFactory(kind=models.TrainingModule.Kind.ONBOARDING)
    person = gf.member(joined=gf.days_ago(60))
    models.TrainingCompletion.objects.create(
        module=module, user=person.user, completed_at=gf.days_ago(5)
    )
    result = checks.training_onboarding_within_30_days()
    assert result.status == "fail"
    assert result.failing[0]["reason"] == "completed late"


def test_refresher_check_fails_on_old_completion_and_passes_on_recent_one() -> None:
    module = gf.TrainingModuleFactory(kind=models.TrainingModule.Kind.ANNUAL_REFRESHER)
    veteran = gf.member(joined=gf.days_ago(800))
    gf.member(joined=gf.days_ago(100))  # not yet due a refresher
    models.TrainingCompletion.objects.create(
        module=module, user=veteran.user, completed_at=gf.days_ago(400)
    )

    result = checks.training_annual_refresher_within_12_months()
    assert result.status == "fail"
    assert result.evidence["members_due"] == 1
    assert result.failing[0]["reason"] == "refresher older than 12 months"

    models.TrainingCompletion.objects.create(
        module=module, user=veteran.user, completed_at=gf.days_ago(10)
    )
    assert checks.training_annual_refresher_within_12_months().status == "pass"


def test_training_checks_fail_when_no_module_exists() -> None:
    gf.member(joined=gf.days_ago(800))
    assert checks.training_onboarding_within_30_days().status == "fail"
    assert checks.training_annual_refresher_within_12_months().status == "fail"


# --- Vendors -----------------------------------------------------------------


def test_vendor_assessment_check_fails_past_cadence_and_passes_after_assessment() -> None:
    vendor = gf.VendorFactory(review_cadence_days=180)
    models.VendorAssessment.objects.create(
        vendor=vendor, assessor=vendor.owner, risk_rating="low", assessed_at=gf.days_ago(200)
    )
    result = checks.vendors_assessed_within_cadence()
    assert result.status == "fail"
    assert result.failing[0]["reason"] == "assessment overdue"

    models.VendorAssessment.objects.create(
        vendor=vendor, assessor=vendor.owner, risk_rating="low", assessed_at=gf.days_ago(1)
    )
    assert checks.vendors_assessed_within_cadence().status == "pass"


def test_vendor_checks_are_not_applicable_without_active_vendors() -> None:
    gf.VendorFactory(status=models.Vendor.Status.OFFBOARDED)
    assert checks.vendors_assessed_within_cadence().status == "not_applicable"
    assert checks.vendor_agreements_current().status == "not_applicable"
    assert checks.vendor_compliance_reports_current().status == "not_applicable"


def _agreement(vendor: models.Vendor, kind: str, renewal_in_days: int) -> models.VendorAgreement:
    return models.VendorAgreement.objects.create(
        vendor=vendor,
        kind=kind,
        signed_on=today() - dt.timedelta(days=300),
        renewal_on=today() + dt.timedelta(days=renewal_in_days),
    )


def test_agreement_check_fails_on_lapsed_dpa_and_passes_after_renewal() -> None:
    vendor = gf.VendorFactory(classification="confidential")
    _agreement(vendor, "contract", 100)
    dpa = _agreement(vendor, "dpa", -1)

    result = checks.vendor_agreements_current()
    assert result.status == "fail"
    reasons = sorted(f["reason"] for f in result.failing)
    assert reasons == ["no current agreement", "past its renewal date"]

    dpa.renewal_on = today() + dt.timedelta(days=365)
    dpa.save()
    assert checks.vendor_agreements_current().status == "pass"


def test_agreement_check_needs_a_dpa_only_for_sensitive_data() -> None:
    vendor = gf.VendorFactory(classification="internal")
    _agreement(vendor, "contract", 100)
    assert checks.vendor_agreements_current().status == "pass"

    vendor.classification = "restricted"
    vendor.save()
    result = checks.vendor_agreements_current()
    assert result.status == "fail"
    assert result.failing[0]["agreement"] == "dpa"


def test_expired_compliance_report_fails_and_a_renewed_one_passes() -> None:
    vendor = gf.VendorFactory()
    expired = models.VendorComplianceReport.objects.create(
        vendor=vendor,
        kind="soc2_type2",
        issued_on=today() - dt.timedelta(days=400),
        expires_on=today() - dt.timedelta(days=1),
    )
    result = checks.vendor_compliance_reports_current()
    assert result.status == "fail"
    assert result.failing[0]["report"] == str(expired.public_id)
    assert result.failing[0]["reason"] == "compliance report expired"

    models.VendorComplianceReport.objects.create(
        vendor=vendor,
        kind="soc2_type2",
        issued_on=today() - dt.timedelta(days=10),
        expires_on=today() + dt.timedelta(days=355),
    )
    assert checks.vendor_compliance_reports_current().status == "pass"


def test_sensitive_vendor_without_any_report_fails() -> None:
    gf.VendorFactory(classification="restricted")
    result = checks.vendor_compliance_reports_current()
    assert result.status == "fail"
    assert "no compliance report" in result.failing[0]["reason"]


def _purpose_granted_by(people: list[object], at: object, code: str = "support") -> object:
    from compliance.privacy.consent import consent_purpose_publish

    version = consent_purpose_publish(code=code, name=code, text="We share support cases.")
    for person in people:
        models.ConsentRecord.objects.create(
            user=person,
            purpose=version.purpose,
            version=version,
            decision=models.ConsentRecord.Decision.GRANTED,
            recorded_at=at,
        )
    return version.purpose


def test_disclosure_passes_only_when_enough_people_had_granted_its_purpose() -> None:
    now = timezone.now()
    people = [gf.member().user for _ in range(3)]
    purpose = _purpose_granted_by(people, now - dt.timedelta(days=10))
    disclosure = models.DataDisclosure.objects.create(
        vendor=gf.VendorFactory(),
        data_categories="e-mail",
        purpose="support",
        subject_count=3,
        consent_purpose=purpose,
        disclosed_at=now - dt.timedelta(days=5),
    )
    # The permitted case first: three people disclosed, three had granted.
    assert checks.vendor_disclosures_backed_by_consent().status == "pass"

    # One withdrew before the disclosure: only two covered it.
    models.ConsentRecord.objects.create(
        user=people[0],
        purpose=purpose,
        version=purpose.versions.get(),
        decision=models.ConsentRecord.Decision.WITHDRAWN,
        recorded_at=now - dt.timedelta(days=7),
    )
    result = checks.vendor_disclosures_backed_by_consent()
    assert result.status == "fail"
    assert result.failing[0]["disclosure"] == str(disclosure.public_id)
    assert "3 people disclosed, 2 had granted support" in result.failing[0]["reason"]

    # A grant recorded after the disclosure does not cover it...
    models.ConsentRecord.objects.create(
        user=people[0],
        purpose=purpose,
        version=purpose.versions.get(),
        decision=models.ConsentRecord.Decision.GRANTED,
        recorded_at=now - dt.timedelta(days=1),
    )
    assert checks.vendor_disclosures_backed_by_consent().status == "fail"
    # ...and one given again before it does.
    models.ConsentRecord.objects.filter(recorded_at=now - dt.timedelta(days=1)).update(
        recorded_at=now - dt.timedelta(days=6)
    )
    assert checks.vendor_disclosures_backed_by_consent().status == "pass"


def test_disclosure_without_a_consent_purpose_fails() -> None:
    disclosure = models.DataDisclosure.objects.create(
        vendor=gf.VendorFactory(),
        data_categories="e-mail",
        purpose="support",
        consent_reference="filed with legal",
    )
    result = checks.vendor_disclosures_backed_by_consent()
    assert result.status == "fail"
    assert result.failing[0] == {
        "disclosure": str(disclosure.public_id),
        "vendor": disclosure.vendor.name,
        "disclosed_at": disclosure.disclosed_at.isoformat(),
        "reason": "no consent purpose named",
    }


def test_the_disclosure_check_runs_the_same_queries_whatever_the_rows() -> None:
    purpose = _purpose_granted_by([gf.member().user], timezone.now() - dt.timedelta(days=9))
    vendor = gf.VendorFactory()

    def disclose() -> None:
        models.DataDisclosure.objects.create(
            vendor=vendor, data_categories="e-mail", purpose="x", consent_purpose=purpose
        )

    disclose()
    with CaptureQueriesContext(connection) as one:
        checks.vendor_disclosures_backed_by_consent()
    for _ in range(5):
        disclose()
    with CaptureQueriesContext(connection) as six:
        checks.vendor_disclosures_backed_by_consent()
    assert len(one) == len(six)


# --- Risks -------------------------------------------------------------------


def test_high_risk_without_treatment_fails_and_passes_once_treated() -> None:
    risk = gf.RiskFactory(likelihood=5, impact=3, treatment="", treatment_plan="")
    gf.RiskFactory(likelihood=2, impact=5, treatment="", treatment_plan="")  # 10: not high

    result = checks.risks_high_treated_and_reviewed()
    assert result.status == "fail"
    assert [f["risk"] for f in result.failing] == [str(risk.public_id)]
    assert result.failing[0]["score"] == 15

    risk.treatment = models.Risk.Treatment.MITIGATE
    risk.treatment_plan = "Fail over to the standby."
    risk.save()
    assert checks.risks_high_treated_and_reviewed().status == "pass"


def test_high_risk_past_its_review_period_fails() -> None:
    risk = gf.RiskFactory(review_period_days=90, last_reviewed_at=gf.days_ago(91))
    result = checks.risks_high_treated_and_reviewed()
    assert result.status == "fail"
    assert result.failing[0]["reason"] == "review overdue"

    risk.last_reviewed_at = timezone.now()
    risk.save()
    assert checks.risks_high_treated_and_reviewed().status == "pass"


# --- Changes -----------------------------------------------------------------


def _approved_change(approved_days_ago: float) -> models.ChangeRequest:
    return gf.ChangeFactory(
        status=models.ChangeRequest.Status.APPROVED,
        approver=UserFactory(),
        approved_at=gf.days_ago(approved_days_ago),
    )


def test_deployment_before_approval_fails_and_passes_when_approved_first() -> None:
    change = _approved_change(approved_days_ago=1)
    deployment = models.Deployment.objects.create(change=change, deployed_at=gf.days_ago(2))

    result = checks.changes_deployments_approved_before_deploy()
    assert result.status == "fail"
    assert result.failing[0]["reason"] == "deployed before approval"

    deployment.deployed_at = timezone.now()
    deployment.save()
    assert checks.changes_deployments_approved_before_deploy().status == "pass"


def test_deployment_without_change_or_with_unapproved_change_fails() -> None:
    models.Deployment.objects.create(change=None, deployed_at=gf.days_ago(1))
    pending = gf.ChangeFactory()
    models.Deployment.objects.create(change=pending, deployed_at=gf.days_ago(1))

    result = checks.changes_deployments_approved_before_deploy()
    assert result.status == "fail"
    assert sorted(f["reason"] for f in result.failing) == [
        "change not approved",
        "no change request",
    ]

    models.Deployment.objects.all().delete()
    models.Deployment.objects.create(change=_approved_change(3), deployed_at=gf.days_ago(1))
    assert checks.changes_deployments_approved_before_deploy().status == "pass"


def test_deployments_outside_the_period_are_not_judged() -> None:
    models.Deployment.objects.create(change=None, deployed_at=gf.days_ago(400))
    assert checks.changes_deployments_approved_before_deploy().status == "not_applicable"


# --- Continuity --------------------------------------------------------------


def test_dr_test_missing_the_rto_fails_and_one_meeting_it_passes() -> None:
    plan = gf.PlanFactory()
    models.DisasterRecoveryTest.objects.create(
        plan=plan,
        kind="restore",
        performed_at=gf.days_ago(30),
        measured_rto_minutes=241,
        measured_rpo_minutes=30,
        conducted_by=plan.owner,
    )
    result = checks.continuity_dr_test_met_objectives()
    assert result.status == "fail"
    assert result.failing[0]["measured_rto_minutes"] == 241

    models.DisasterRecoveryTest.objects.create(
        plan=plan,
        kind="failover",
        performed_at=gf.days_ago(10),
        measured_rto_minutes=240,
        measured_rpo_minutes=60,
        conducted_by=plan.owner,
    )
    result = checks.continuity_dr_test_met_objectives()
    assert result.status == "pass"
    assert result.evidence["passing_test"]["measured_rpo_minutes"] == 60


def test_dr_test_older_than_12_months_fails() -> None:
    plan = gf.PlanFactory()
    assert plan.rto_minutes == 240 and plan.rpo_minutes == 60
    test = models.DisasterRecoveryTest.objects.create(
        plan=plan,
        kind="failover",
        performed_at=gf.days_ago(366),
        measured_rto_minutes=60,
        measured_rpo_minutes=10,
        conducted_by=plan.owner,
    )
    result = checks.continuity_dr_test_met_objectives()
    assert result.status == "fail"
    assert result.failing == [{"reason": "no disaster-recovery test in the last 12 months"}]

    test.performed_at = gf.days_ago(300)
    test.save()
    assert checks.continuity_dr_test_met_objectives().status == "pass"


def test_every_check_is_listed_for_registration() -> None:
    names = {fn.__name__ for fn in checks.ALL_CHECKS}
    public = {
        name
        for name, value in vars(checks).items()
        if callable(value)
        and getattr(value, "__module__", "") == checks.__name__
        and not name.startswith("_")
        and name != "GovernanceCheckResult"
    }
    assert names == public
    assert len(names) == 11


def test_every_check_names_its_criteria() -> None:
    assert set(checks.CHECK_CRITERIA) == {fn.__name__ for fn in checks.ALL_CHECKS}
    assert all(checks.CHECK_CRITERIA.values())
