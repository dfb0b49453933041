"""Reads of the governance registers, shared by pages, API, checks, reminders
and the seed command. Lists return querysets with everything they show
joined or prefetched, so a page runs the same queries for any row count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Membership, User
from cloudexpress.dbvendor import Median
from compliance.models import (
    AuditFinding,
    ChangeRequest,
    Control,
    DataDisclosure,
    Deployment,
    DisasterRecoveryPlan,
    DisasterRecoveryTest,
    InternalAudit,
    Policy,
    PolicyVersion,
    Reminder,
    Risk,
    TrainingAssignment,
    TrainingCompletion,
    TrainingModule,
    Vendor,
    VendorAgreement,
    VendorAssessment,
    Walkthrough,
)

# --- People ------------------------------------------------------------------


def active_members() -> list[Membership]:
    """Return the operator organization's active memberships of people who
    may still sign in: the workforce the policies and training apply to."""
    return list(
        Membership.objects.filter(
            organization__slug=settings.OPERATOR_ORGANIZATION_SLUG,
            status=Membership.Status.ACTIVE,
            user__is_active=True,
            user__terminated_at=None,
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .select_related("user", "role")
        .order_by("user__email")
    )


# --- Policies ----------------------------------------------------------------


def policy_list() -> QuerySet[Policy]:
    return (
        Policy.objects.select_related(
            "owner",
            "current_version__author",
            "current_version__approver",
            "last_reviewed_by",
        )
        .annotate(acknowledgement_count=Count("current_version__acknowledgements"))
        .order_by("title")
    )


def policy_get(*, public_id: Any) -> Policy:
    return (
        Policy.objects.select_related("owner", "current_version", "last_reviewed_by")
        .prefetch_related(
            Prefetch(
                "versions",
                queryset=PolicyVersion.objects.select_related("author", "approver").annotate(
                    acknowledgement_count=Count("acknowledgements")
                ),
            )
        )
        .get(public_id=public_id)
    )


def policy_unacknowledged_members(*, policy: Policy) -> list[User]:
    """Return the active members who have not acknowledged the current
    version of the policy."""
    members = active_members()
    if policy.current_version_id is None:
        return [m.user for m in members]
    acknowledged = set(
        policy.current_version.acknowledgements.values_list("user_id", flat=True)
        if policy.current_version
        else []
    )
    return [m.user for m in members if m.user_id not in acknowledged]


# --- Training ----------------------------------------------------------------


def training_module_list() -> QuerySet[TrainingModule]:
    return (
        TrainingModule.objects.prefetch_related("roles")
        .annotate(
            open_assignments=Count("assignments", filter=Q(assignments__completed_at=None)),
            overdue_assignments=Count(
                "assignments",
                filter=Q(assignments__completed_at=None, assignments__due_at__lt=timezone.now()),
            ),
            completion_count=Count("completions", distinct=True),
        )
        .order_by("title")
    )


def training_module_get(*, public_id: Any) -> TrainingModule:
    return TrainingModule.objects.prefetch_related(
        "roles",
        Prefetch(
            "assignments",
            queryset=TrainingAssignment.objects.select_related("user").order_by("due_at"),
        ),
        Prefetch(
            "completions",
            queryset=TrainingCompletion.objects.select_related("user").order_by("-completed_at"),
        ),
    ).get(public_id=public_id)


def training_last_completions(*, kind: str | None = None) -> dict[tuple[int, int], datetime]:
    """Return the latest completion per (module id, user id)."""
    completions = TrainingCompletion.objects.all()
    if kind is not None:
        completions = completions.filter(module__kind=kind)
    rows = completions.values("module_id", "user_id").annotate(last=Max("completed_at"))
    return {(row["module_id"], row["user_id"]): row["last"] for row in rows}


def training_overdue_assignments(*, now: datetime | None = None) -> QuerySet[TrainingAssignment]:
    now = now or timezone.now()
    return TrainingAssignment.objects.filter(completed_at=None, due_at__lt=now).select_related(
        "module", "user"
    )


# --- Vendors -----------------------------------------------------------------


def vendor_list() -> QuerySet[Vendor]:
    today = timezone.now().date()
    return (
        Vendor.objects.select_related("owner")
        .annotate(
            last_assessed_at=Max("assessments__assessed_at"),
            current_agreements=Count(
                "agreements",
                filter=Q(
                    agreements__terminated_on=None,
                    agreements__signed_on__lte=today,
                    agreements__renewal_on__gte=today,
                ),
                distinct=True,
            ),
            expired_reports=Count(
                "reports", filter=Q(reports__expires_on__lt=today), distinct=True
            ),
        )
        .order_by("name")
    )


def vendor_get(*, public_id: Any) -> Vendor:
    return (
        Vendor.objects.select_related("owner")
        .prefetch_related(
            Prefetch(
                "assessments",
                queryset=VendorAssessment.objects.select_related("assessor"),
            ),
            "reports",
            "incidents",
            Prefetch(
                "agreements",
                queryset=VendorAgreement.objects.prefetch_related("reviews__reviewer"),
            ),
            Prefetch(
                "disclosures",
                queryset=DataDisclosure.objects.select_related("consent_purpose"),
            ),
        )
        .get(public_id=public_id)
    )


def vendor_last_assessments() -> dict[int, datetime]:
    rows = VendorAssessment.objects.values("vendor_id").annotate(last=Max("assessed_at"))
    return {row["vendor_id"]: row["last"] for row in rows}


def disclosure_list() -> QuerySet[DataDisclosure]:
    return DataDisclosure.objects.select_related(
        "vendor", "recorded_by", "consent_purpose"
    ).order_by("-disclosed_at")


# --- Risks -------------------------------------------------------------------


def risk_list() -> QuerySet[Risk]:
    return (
        Risk.objects.select_related("owner")
        .prefetch_related(Prefetch("controls", queryset=Control.objects.only("id", "code")))
        .order_by("-likelihood", "-impact", "title")
    )


def risk_get(*, public_id: Any) -> Risk:
    return (
        Risk.objects.select_related("owner")
        .prefetch_related(Prefetch("controls", queryset=Control.objects.only("id", "code")))
        .get(public_id=public_id)
    )


def risk_heatmap() -> dict[str, Any]:
    """Return the open risks counted per likelihood x impact cell.

    ``cells[likelihood - 1][impact - 1]`` is a count; rows run from
    likelihood 1 to 5, so a page that wants "likely" on top reverses them.
    """
    cells = [[0] * 5 for _ in range(5)]
    rows = (
        Risk.objects.filter(status=Risk.Status.OPEN)
        .values("likelihood", "impact")
        .annotate(count=Count("id"))
    )
    total = 0
    for row in rows:
        cells[row["likelihood"] - 1][row["impact"] - 1] = row["count"]
        total += row["count"]
    return {"cells": cells, "total": total}


def risk_heatmap_rows() -> list[dict[str, Any]]:
    """Return the heat map as rows for a table, likelihood 5 on top, each
    cell with its count and band."""
    from compliance.models.governance import HIGH_RISK_SCORE

    cells = risk_heatmap()["cells"]
    rows = []
    for likelihood in range(5, 0, -1):
        row = []
        for impact in range(1, 6):
            score = likelihood * impact
            band = "high" if score >= HIGH_RISK_SCORE else "medium" if score >= 8 else "low"
            row.append({"count": cells[likelihood - 1][impact - 1], "band": band})
        rows.append({"likelihood": likelihood, "cells": row})
    return rows


# --- Changes -----------------------------------------------------------------


def change_list() -> QuerySet[ChangeRequest]:
    return (
        ChangeRequest.objects.select_related("author", "reviewer", "approver")
        .annotate(
            deployment_count=Count("deployments"),
            last_deployed_at=Max("deployments__deployed_at"),
        )
        .order_by("-created_at")
    )


def change_get(*, public_id: Any) -> ChangeRequest:
    return (
        ChangeRequest.objects.select_related("author", "reviewer", "approver")
        .prefetch_related(
            Prefetch("deployments", queryset=Deployment.objects.select_related("recorded_by"))
        )
        .get(public_id=public_id)
    )


def deployments_in_period(*, since: datetime, until: datetime) -> QuerySet[Deployment]:
    return (
        Deployment.objects.filter(deployed_at__gte=since, deployed_at__lte=until)
        .select_related("change")
        .order_by("deployed_at")
    )


# --- Continuity --------------------------------------------------------------


def dr_plan_list() -> QuerySet[DisasterRecoveryPlan]:
    last_test = DisasterRecoveryTest.objects.filter(plan=OuterRef("pk")).order_by("-performed_at")
    return (
        DisasterRecoveryPlan.objects.select_related("owner")
        .annotate(
            last_tested_at=Max("tests__performed_at"),
            last_measured_rto=Subquery(last_test.values("measured_rto_minutes")[:1]),
            last_measured_rpo=Subquery(last_test.values("measured_rpo_minutes")[:1]),
            contact_count=Count("contacts", distinct=True),
        )
        .order_by("name")
    )


def dr_plan_get(*, public_id: Any) -> DisasterRecoveryPlan:
    return (
        DisasterRecoveryPlan.objects.select_related("owner")
        .prefetch_related(
            Prefetch(
                "tests", queryset=DisasterRecoveryTest.objects.select_related("conducted_by")
            ),
            "contacts",
        )
        .get(public_id=public_id)
    )


# --- Internal audits ---------------------------------------------------------


def audit_list() -> QuerySet[InternalAudit]:
    return (
        InternalAudit.objects.select_related("lead")
        .annotate(
            finding_count=Count("findings"),
            open_findings=Count("findings", filter=Q(findings__closed_at=None)),
        )
        .order_by("-period_end")
    )


def audit_get(*, public_id: Any) -> InternalAudit:
    return (
        InternalAudit.objects.select_related("lead")
        .prefetch_related(
            Prefetch("findings", queryset=AuditFinding.objects.select_related("owner", "control"))
        )
        .get(public_id=public_id)
    )


def finding_list() -> QuerySet[AuditFinding]:
    """Open findings first, soonest due first; then closed ones, latest first."""
    return AuditFinding.objects.select_related("audit", "owner", "control").order_by(
        F("closed_at").desc(nulls_first=True), "due_on", "pk"
    )


def finding_get(*, public_id: Any) -> AuditFinding:
    return AuditFinding.objects.select_related("audit", "owner", "control").get(
        public_id=public_id
    )


def walkthrough_list() -> QuerySet[Walkthrough]:
    return Walkthrough.objects.select_related("presenter", "control").order_by("-scheduled_at")


def walkthrough_get(*, public_id: Any) -> Walkthrough:
    return Walkthrough.objects.select_related("presenter", "control").get(public_id=public_id)


def finding_closure_kpi(*, since: datetime | None = None) -> dict[str, Any]:
    """Return the audit-finding closure time KPI for the dashboard: closed
    findings' mean and median days from opening to closure, and the open
    ones, overdue counted apart.

    One aggregate query, one row, however many findings there are. An open
    finding's time to close is NULL, which both averages leave out."""
    findings = AuditFinding.objects.all()
    if since is not None:
        findings = findings.filter(opened_at__gte=since)
    today = timezone.now().date()

    time_to_close = ExpressionWrapper(
        F("closed_at") - F("opened_at"), output_field=DurationField()
    )
    closed = Q(closed_at__isnull=False)
    is_open = Q(closed_at__isnull=True)
    figures = findings.alias(
        # Closed on time compares the UTC day of closure with the due day.
        closed_on=TruncDate("closed_at", tzinfo=UTC),
    ).aggregate(
        closed=Count("pk", filter=closed),
        open=Count("pk", filter=is_open),
        open_overdue=Count("pk", filter=is_open & Q(due_on__lt=today)),
        closed_on_time=Count("pk", filter=closed & Q(closed_on__lte=F("due_on"))),
        mean=Avg(time_to_close),
        median=Median(time_to_close),
    )

    def days(value: timedelta | None) -> float | None:
        return round(value.total_seconds() / 86400, 1) if value is not None else None

    return {
        "closed": figures["closed"],
        "open": figures["open"],
        "open_overdue": figures["open_overdue"],
        "mean_days_to_close": days(figures["mean"]),
        "median_days_to_close": days(figures["median"]),
        "closed_on_time": figures["closed_on_time"],
    }


# --- Reminders ---------------------------------------------------------------


@dataclass(frozen=True)
class DueItem:
    kind: str
    object_id: int
    due_on: date
    recipient: User | None
    subject: str
    detail: str


def _date(value: datetime | date) -> date:
    return value.date() if isinstance(value, datetime) else value


def reminders_due(*, until: date) -> list[DueItem]:
    """Return every due date on or before ``until`` that has not been
    reminded of yet, across all registers."""
    kinds = Reminder.Kind
    items: list[DueItem] = []

    for policy in Policy.objects.select_related("owner"):
        due = policy.review_due_at or policy.created_at
        items.append(
            DueItem(
                kinds.POLICY_REVIEW,
                policy.pk,
                _date(due),
                policy.owner,
                f"Review the {policy.title}",
                "Policies are reviewed at least every 12 months.",
            )
        )

    # Nobody reminds a leaver: terminated or deactivated people are skipped.
    for assignment in TrainingAssignment.objects.filter(
        completed_at=None,
        due_at__date__lte=until,
        user__is_active=True,
        user__terminated_at=None,
    ).select_related("module", "user"):
        items.append(
            DueItem(
                kinds.TRAINING_DUE,
                assignment.pk,
                _date(assignment.due_at),
                assignment.user,
                f"Complete the training: {assignment.module.title}",
                "Security training is part of the SOC 2 control set.",
            )
        )

    last_assessed = vendor_last_assessments()
    for vendor in Vendor.objects.filter(status=Vendor.Status.ACTIVE).select_related("owner"):
        last = last_assessed.get(vendor.pk)
        due = (last + timedelta(days=vendor.review_cadence_days)) if last else vendor.created_at
        items.append(
            DueItem(
                kinds.VENDOR_REVIEW,
                vendor.pk,
                _date(due),
                vendor.owner,
                f"Assess the vendor {vendor.name}",
                f"Vendors are assessed every {vendor.review_cadence_days} days.",
            )
        )

    for agreement in VendorAgreement.objects.filter(
        terminated_on=None, renewal_on__lte=until, vendor__status=Vendor.Status.ACTIVE
    ).select_related("vendor__owner"):
        items.append(
            DueItem(
                kinds.AGREEMENT_RENEWAL,
                agreement.pk,
                agreement.renewal_on,
                agreement.vendor.owner,
                f"Renew the {agreement.get_kind_display()} with {agreement.vendor.name}",
                "An agreement past its renewal date no longer covers the vendor.",
            )
        )

    for risk in Risk.objects.filter(status=Risk.Status.OPEN).select_related("owner"):
        due = risk.review_due_at or risk.created_at
        items.append(
            DueItem(
                kinds.RISK_REVIEW,
                risk.pk,
                _date(due),
                risk.owner,
                f"Review the risk: {risk.title}",
                f"This risk is reviewed every {risk.review_period_days} days.",
            )
        )

    for finding in AuditFinding.objects.filter(closed_at=None, due_on__lte=until).select_related(
        "owner"
    ):
        items.append(
            DueItem(
                kinds.FINDING_DUE,
                finding.pk,
                finding.due_on,
                finding.owner,
                f"Close the audit finding: {finding.title}",
                "Open findings are reported to the auditors with their age.",
            )
        )

    items = [item for item in items if item.due_on <= until]
    if not items:
        return []

    # Look up only the candidates' log rows, not years of sent reminders.
    by_kind: dict[str, set[int]] = {}
    for item in items:
        by_kind.setdefault(item.kind, set()).add(item.object_id)
    candidates = Q()
    for kind, object_ids in by_kind.items():
        candidates |= Q(kind=kind, object_id__in=object_ids)
    sent = set(
        Reminder.objects.filter(candidates, due_on__lte=until).values_list(
            "kind", "object_id", "due_on"
        )
    )
    return [item for item in items if (item.kind, item.object_id, item.due_on) not in sent]
