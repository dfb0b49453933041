"""Checks over the governance registers.

Plain functions that take no arguments and return a
``GovernanceCheckResult``; the compliance engine registers them with its
``@check`` decorator. Like every check they only read, and an empty register
fails rather than passes where the control needs the register to hold
something (no policies is no policy control).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from django.db.models import Count, Exists, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from compliance.governance import selectors
from compliance.models import (
    ChangeRequest,
    ConsentRecord,
    DataDisclosure,
    DisasterRecoveryTest,
    Policy,
    PolicyAcknowledgement,
    Risk,
    TrainingCompletion,
    TrainingModule,
    Vendor,
    VendorAgreement,
    VendorComplianceReport,
)
from compliance.models.governance import HIGH_RISK_SCORE, YEAR_DAYS

Status = Literal["pass", "fail", "not_applicable"]

# Onboarding training is due within this many days of joining.
ONBOARDING_DAYS = 30
# The change check looks back over a Type II observation year.
CHANGE_PERIOD_DAYS = YEAR_DAYS


@dataclass(frozen=True)
class GovernanceCheckResult:
    status: Status
    evidence: dict[str, Any] = field(default_factory=dict)
    failing: list[dict[str, Any]] = field(default_factory=list)


def _result(evidence: dict[str, Any], failing: list[dict[str, Any]]) -> GovernanceCheckResult:
    return GovernanceCheckResult("fail" if failing else "pass", evidence, failing)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


# --- Policies ----------------------------------------------------------------


def policies_reviewed_within_12_months() -> GovernanceCheckResult:
    """Every policy has an approved version and was reviewed in the last
    12 months."""
    now = timezone.now()
    cutoff = now - timedelta(days=YEAR_DAYS)
    policies = list(Policy.objects.order_by("title"))
    if not policies:
        return GovernanceCheckResult(
            "fail", {"policies": 0}, [{"reason": "the policy register is empty"}]
        )

    failing = []
    for policy in policies:
        if policy.current_version_id is None:
            reason = "no approved version"
        elif policy.last_reviewed_at is None:
            reason = "never reviewed"
        elif policy.last_reviewed_at < cutoff:
            reason = "last review older than 12 months"
        else:
            continue
        failing.append(
            {
                "policy": str(policy.public_id),
                "title": policy.title,
                "last_reviewed_at": _iso(policy.last_reviewed_at),
                "reason": reason,
            }
        )
    return _result({"policies": len(policies), "reviewed_since": cutoff.isoformat()}, failing)


def policies_acknowledged_by_active_members() -> GovernanceCheckResult:
    """Every active member acknowledged the current version of every
    required policy."""
    policies = list(Policy.objects.filter(required=True).order_by("title"))
    members = selectors.active_members()
    if not policies:
        return GovernanceCheckResult(
            "fail", {"required_policies": 0}, [{"reason": "no required policy is registered"}]
        )
    if not members:
        return GovernanceCheckResult("not_applicable", {"active_members": 0}, [])

    version_ids = [p.current_version_id for p in policies if p.current_version_id]
    acknowledged = set(
        PolicyAcknowledgement.objects.filter(version_id__in=version_ids).values_list(
            "version_id", "user_id"
        )
    )
    failing = []
    for policy in policies:
        for membership in members:
            if (policy.current_version_id, membership.user_id) in acknowledged:
                continue
            failing.append(
                {
                    "policy": str(policy.public_id),
                    "title": policy.title,
                    "user": str(membership.user.public_id),
                    "reason": "no approved version"
                    if policy.current_version_id is None
                    else "current version not acknowledged",
                }
            )
    evidence = {
        "required_policies": len(policies),
        "active_members": len(members),
        "acknowledgements_missing": len(failing),
    }
    return _result(evidence, failing)


# --- Training ----------------------------------------------------------------


def _completions_by_user(kind: str) -> dict[int, list[Any]]:
    by_user: dict[int, list[Any]] = {}
    rows = TrainingCompletion.objects.filter(module__kind=kind).values_list(
        "user_id", "completed_at"
    )
    for user_id, completed_at in rows:
        by_user.setdefault(user_id, []).append(completed_at)
    return by_user


def training_onboarding_within_30_days() -> GovernanceCheckResult:
    """Every active member completed onboarding training within 30 days of
    joining; members still inside their 30 days are not yet failing."""
    if not TrainingModule.objects.filter(kind=TrainingModule.Kind.ONBOARDING).exists():
        return GovernanceCheckResult(
            "fail", {"onboarding_modules": 0}, [{"reason": "no onboarding module exists"}]
        )
    members = selectors.active_members()
    if not members:
        return GovernanceCheckResult("not_applicable", {"active_members": 0}, [])

    now = timezone.now()
    completions = _completions_by_user(TrainingModule.Kind.ONBOARDING)
    failing = []
    in_grace = 0
    for membership in members:
        deadline = membership.created_at + timedelta(days=ONBOARDING_DAYS)
        done = [c for c in completions.get(membership.user_id, []) if c <= deadline]
        if done:
            continue
        if now <= deadline:
            in_grace += 1
            continue
        late = completions.get(membership.user_id)
        failing.append(
            {
                "user": str(membership.user.public_id),
                "joined_at": membership.created_at.isoformat(),
                "completed_at": _iso(min(late)) if late else None,
                "reason": "completed late" if late else "not completed",
            }
        )
    evidence = {"active_members": len(members), "within_grace_period": in_grace}
    return _result(evidence, failing)


def training_annual_refresher_within_12_months() -> GovernanceCheckResult:
    """Every active member who joined over a year ago completed the annual
    refresher within the last 12 months. Newer members are covered by their
    onboarding."""
    if not TrainingModule.objects.filter(kind=TrainingModule.Kind.ANNUAL_REFRESHER).exists():
        return GovernanceCheckResult(
            "fail", {"refresher_modules": 0}, [{"reason": "no annual refresher module exists"}]
        )
    now = timezone.now()
    cutoff = now - timedelta(days=YEAR_DAYS)
    members = [m for m in selectors.active_members() if m.created_at < cutoff]
    if not members:
        return GovernanceCheckResult("not_applicable", {"members_due": 0}, [])

    completions = _completions_by_user(TrainingModule.Kind.ANNUAL_REFRESHER)
    failing = []
    for membership in members:
        done = completions.get(membership.user_id, [])
        if any(c >= cutoff for c in done):
            continue
        failing.append(
            {
                "user": str(membership.user.public_id),
                "last_completed_at": _iso(max(done)) if done else None,
                "reason": "refresher older than 12 months" if done else "never completed",
            }
        )
    return _result({"members_due": len(members), "completed_since": cutoff.isoformat()}, failing)


# --- Vendors -----------------------------------------------------------------


def vendors_assessed_within_cadence() -> GovernanceCheckResult:
    """Every active vendor was assessed within its review cadence."""
    vendors = list(Vendor.objects.filter(status=Vendor.Status.ACTIVE).order_by("name"))
    if not vendors:
        return GovernanceCheckResult("not_applicable", {"active_vendors": 0}, [])
    now = timezone.now()
    last = selectors.vendor_last_assessments()
    failing = []
    for vendor in vendors:
        assessed = last.get(vendor.pk)
        if assessed is not None and assessed >= now - timedelta(days=vendor.review_cadence_days):
            continue
        failing.append(
            {
                "vendor": str(vendor.public_id),
                "name": vendor.name,
                "last_assessed_at": _iso(assessed),
                "cadence_days": vendor.review_cadence_days,
                "reason": "assessment overdue" if assessed else "never assessed",
            }
        )
    return _result({"active_vendors": len(vendors)}, failing)


def vendor_agreements_current() -> GovernanceCheckResult:
    """Every active vendor holds a current contract, and a current DPA when
    it receives confidential or restricted data; no agreement still in use
    is past its renewal date."""
    vendors = list(
        Vendor.objects.filter(status=Vendor.Status.ACTIVE)
        .prefetch_related("agreements")
        .order_by("name")
    )
    if not vendors:
        return GovernanceCheckResult("not_applicable", {"active_vendors": 0}, [])
    today = timezone.now().date()
    failing = []
    for vendor in vendors:
        agreements = [a for a in vendor.agreements.all() if a.terminated_on is None]
        needed = {VendorAgreement.Kind.CONTRACT}
        if vendor.classification in {"confidential", "restricted"}:
            needed.add(VendorAgreement.Kind.DPA)
        for kind in sorted(needed):
            if not any(a.kind == kind and a.is_current(today) for a in agreements):
                failing.append(
                    {
                        "vendor": str(vendor.public_id),
                        "name": vendor.name,
                        "agreement": kind,
                        "reason": "no current agreement",
                    }
                )
        for agreement in agreements:
            if agreement.renewal_on < today:
                failing.append(
                    {
                        "vendor": str(vendor.public_id),
                        "name": vendor.name,
                        "agreement": str(agreement.public_id),
                        "renewal_on": agreement.renewal_on.isoformat(),
                        "reason": "past its renewal date",
                    }
                )
    return _result({"active_vendors": len(vendors)}, failing)


def vendor_compliance_reports_current() -> GovernanceCheckResult:
    """No active vendor relies on an expired compliance report: each one's
    latest report of a kind is unexpired, and vendors receiving
    confidential or restricted data hold at least one current report."""
    vendors = list(
        Vendor.objects.filter(status=Vendor.Status.ACTIVE)
        .prefetch_related("reports")
        .order_by("name")
    )
    if not vendors:
        return GovernanceCheckResult("not_applicable", {"active_vendors": 0}, [])
    today = timezone.now().date()
    failing = []
    for vendor in vendors:
        latest: dict[str, VendorComplianceReport] = {}
        for report in vendor.reports.all():
            held = latest.get(report.kind)
            if held is None or report.expires_on > held.expires_on:
                latest[report.kind] = report
        for report in latest.values():
            if report.expires_on < today:
                failing.append(
                    {
                        "vendor": str(vendor.public_id),
                        "name": vendor.name,
                        "report": str(report.public_id),
                        "kind": report.kind,
                        "expired_on": report.expires_on.isoformat(),
                        "reason": "compliance report expired",
                    }
                )
        sensitive = vendor.classification in {"confidential", "restricted"}
        if sensitive and not latest:
            failing.append(
                {
                    "vendor": str(vendor.public_id),
                    "name": vendor.name,
                    "reason": "no compliance report for a vendor holding sensitive data",
                }
            )
    return _result({"active_vendors": len(vendors)}, failing)


def vendor_disclosures_backed_by_consent() -> GovernanceCheckResult:
    """Every disclosure of personal data to a third party relies on a consent
    purpose, and at the moment of disclosure at least as many people as it
    covered had granted that purpose (their latest decision before it)."""
    granted = ConsentRecord.objects.filter(
        purpose_id=OuterRef("consent_purpose_id"),
        recorded_at__lte=OuterRef("disclosed_at"),
        decision=ConsentRecord.Decision.GRANTED,
    ).exclude(
        # A later refusal or withdrawal before the disclosure undoes it.
        Exists(
            ConsentRecord.objects.filter(
                user_id=OuterRef("user_id"),
                purpose_id=OuterRef("purpose_id"),
                recorded_at__gt=OuterRef("recorded_at"),
                recorded_at__lte=OuterRef(OuterRef("disclosed_at")),
            ).exclude(decision=ConsentRecord.Decision.GRANTED)
        )
    )
    consenting = (
        granted.order_by()
        .values("purpose_id")
        .annotate(people=Count("user_id", distinct=True))
        .values("people")
    )
    disclosures = list(
        DataDisclosure.objects.select_related("vendor", "consent_purpose")
        .annotate(consenting=Coalesce(Subquery(consenting), 0))
        .order_by("disclosed_at")
    )
    if not disclosures:
        return GovernanceCheckResult("not_applicable", {"disclosures": 0}, [])
    failing = []
    for d in disclosures:
        if d.consent_purpose is None:
            reason = "no consent purpose named"
        elif d.consenting < d.subject_count:
            reason = (
                f"{d.subject_count} people disclosed, {d.consenting} had granted "
                f"{d.consent_purpose.code} at the time"
            )
        else:
            continue
        failing.append(
            {
                "disclosure": str(d.public_id),
                "vendor": d.vendor.name,
                "disclosed_at": d.disclosed_at.isoformat(),
                "reason": reason,
            }
        )
    return _result({"disclosures": len(disclosures)}, failing)


# --- Risks -------------------------------------------------------------------


def risks_high_treated_and_reviewed() -> GovernanceCheckResult:
    """Every open high risk (likelihood x impact of 15 or more) has a
    treatment decision with a plan and was reviewed within its period."""
    now = timezone.now()
    risks = [r for r in Risk.objects.filter(status=Risk.Status.OPEN) if r.is_high]
    failing = []
    for risk in risks:
        reasons = []
        if not risk.treatment or not risk.treatment_plan.strip():
            reasons.append("no treatment")
        due = risk.review_due_at
        if due is None or due < now:
            reasons.append("review overdue" if due else "never reviewed")
        if reasons:
            failing.append(
                {
                    "risk": str(risk.public_id),
                    "title": risk.title,
                    "score": risk.score,
                    "last_reviewed_at": _iso(risk.last_reviewed_at),
                    "reason": ", ".join(reasons),
                }
            )
    return _result({"high_risks": len(risks), "high_threshold": HIGH_RISK_SCORE}, failing)


# --- Changes -----------------------------------------------------------------


def changes_deployments_approved_before_deploy() -> GovernanceCheckResult:
    """Every deployment of the last year had an approved change, approved
    before it was deployed, by someone other than its author."""
    now = timezone.now()
    since = now - timedelta(days=CHANGE_PERIOD_DAYS)
    deployments = list(selectors.deployments_in_period(since=since, until=now))
    if not deployments:
        return GovernanceCheckResult("not_applicable", {"deployments": 0}, [])
    failing = []
    for deployment in deployments:
        change = deployment.change
        if change is None:
            reason = "no change request"
        elif change.status != ChangeRequest.Status.APPROVED or change.approved_at is None:
            reason = "change not approved"
        elif change.approved_at > deployment.deployed_at:
            reason = "deployed before approval"
        elif change.approver_id == change.author_id:
            reason = "approved by its author"
        else:
            continue
        failing.append(
            {
                "deployment": str(deployment.public_id),
                "deployed_at": deployment.deployed_at.isoformat(),
                "change": str(change.public_id) if change else None,
                "reason": reason,
            }
        )
    evidence = {"deployments": len(deployments), "since": since.isoformat()}
    return _result(evidence, failing)


# --- Continuity --------------------------------------------------------------


def continuity_dr_test_met_objectives() -> GovernanceCheckResult:
    """A disaster-recovery test in the last 12 months met its plan's RTO and
    RPO (4 hours and 1 hour)."""
    cutoff = timezone.now() - timedelta(days=YEAR_DAYS)
    tests = list(
        DisasterRecoveryTest.objects.filter(performed_at__gte=cutoff)
        .select_related("plan")
        .order_by("-performed_at")
    )
    met = [
        t
        for t in tests
        if t.measured_rto_minutes <= t.plan.rto_minutes
        and t.measured_rpo_minutes <= t.plan.rpo_minutes
    ]
    evidence: dict[str, Any] = {"tests_in_12_months": len(tests), "since": cutoff.isoformat()}
    if met:
        best = met[0]
        evidence["passing_test"] = {
            "test": str(best.public_id),
            "performed_at": best.performed_at.isoformat(),
            "measured_rto_minutes": best.measured_rto_minutes,
            "measured_rpo_minutes": best.measured_rpo_minutes,
        }
        return GovernanceCheckResult("pass", evidence, [])
    failing = [
        {
            "test": str(t.public_id),
            "performed_at": t.performed_at.isoformat(),
            "measured_rto_minutes": t.measured_rto_minutes,
            "measured_rpo_minutes": t.measured_rpo_minutes,
            "reason": "missed the RTO or RPO",
        }
        for t in tests
    ] or [{"reason": "no disaster-recovery test in the last 12 months"}]
    return GovernanceCheckResult("fail", evidence, failing)


# Every governance check, for the lead to register with the engine.
ALL_CHECKS = (
    policies_reviewed_within_12_months,
    policies_acknowledged_by_active_members,
    training_onboarding_within_30_days,
    training_annual_refresher_within_12_months,
    vendors_assessed_within_cadence,
    vendor_agreements_current,
    vendor_compliance_reports_current,
    vendor_disclosures_backed_by_consent,
    risks_high_treated_and_reviewed,
    changes_deployments_approved_before_deploy,
    continuity_dr_test_met_objectives,
)

# The official 2017 Trust Services Criteria each check bears on, for the
# engine's @check registration (the lead maps them at merge).
CHECK_CRITERIA: dict[str, tuple[str, ...]] = {
    "policies_reviewed_within_12_months": ("CC5.3", "CC2.2"),
    "policies_acknowledged_by_active_members": ("CC1.1", "CC2.2"),
    "training_onboarding_within_30_days": ("CC1.4", "CC2.2"),
    "training_annual_refresher_within_12_months": ("CC1.4", "CC2.2"),
    "vendors_assessed_within_cadence": ("CC9.2",),
    "vendor_agreements_current": ("CC9.2", "C1.1"),
    "vendor_compliance_reports_current": ("CC9.2",),
    "vendor_disclosures_backed_by_consent": ("P6.1",),
    "risks_high_treated_and_reviewed": ("CC3.2", "CC9.1"),
    "changes_deployments_approved_before_deploy": ("CC8.1",),
    "continuity_dr_test_met_objectives": ("A1.3", "CC9.1"),
}
