"""ReportData built by hand for the report tests (the engine is not merged yet)."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from accounts.models import User
from compliance.reports.data import (
    ActionItem,
    ControlReport,
    ControlStatus,
    EvidenceItem,
    Gap,
    NamedScore,
    ReportData,
    ScorePoint,
    SecuritySummary,
)

PERIOD_START = date(2026, 9, 1)
PERIOD_END = date(2026, 11, 30)
GENERATED_AT = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)

CATEGORIES = (
    ("Security", "CC"),
    ("Availability", "A1"),
    ("Processing Integrity", "PI1"),
    ("Confidentiality", "C1"),
    ("Privacy", "P"),
)
STATUS_CYCLE = (
    ControlStatus.PASSING,
    ControlStatus.PASSING,
    ControlStatus.FAILING,
    ControlStatus.PASSING,
    ControlStatus.NOT_IMPLEMENTED,
    ControlStatus.PASSING,
    ControlStatus.ERROR,
    ControlStatus.NOT_APPLICABLE,
)


def sample_report_data(
    *,
    period_start: date = PERIOD_START,
    period_end: date = PERIOD_END,
    controls: int = 12,
    evidence_per_control: int = 2,
    description: str = "",
    evidence_title: str = "",
) -> ReportData:
    """Return a report with ``controls`` controls cycling through every status."""
    rows = []
    gaps = []
    for index in range(controls):
        category, prefix = CATEGORIES[index % len(CATEGORIES)]
        status = STATUS_CYCLE[index % len(STATUS_CYCLE)]
        code = f"CX-{index + 1:03d}"
        criterion = f"{prefix}{index % 3 + 1}.{index % 4 + 1}"
        evidence = tuple(
            EvidenceItem(
                title=evidence_title or f"Snapshot {n + 1} of {code}",
                sha256=hashlib.sha256(f"{code}:{n}".encode()).hexdigest(),
                collected_at=GENERATED_AT - timedelta(days=n),
            )
            for n in range(evidence_per_control)
        )
        rows.append(
            ControlReport(
                code=code,
                title=f"Control {code}",
                description=description or f"What {code} does, in the officer's words.",
                status=status,
                owner=f"owner{index % 4}@example.test",
                criteria=(criterion,),
                category=category,
                evidence=evidence,
                not_applicable_reason=(
                    "No card data is processed." if status == ControlStatus.NOT_APPLICABLE else ""
                ),
                likelihood=index % 5 + 1,
                impact=(index * 2) % 5 + 1,
            )
        )
        if status not in {ControlStatus.PASSING, ControlStatus.NOT_APPLICABLE}:
            gaps.append(
                Gap(
                    control_code=code,
                    criterion=criterion,
                    reason=f"{code} is {status.replace('_', ' ')}.",
                    action_items=(
                        ActionItem(
                            title=f"Mend {code}",
                            owner=f"owner{index % 4}@example.test",
                            due_on=PERIOD_END + timedelta(days=(index % 3) * 10 - 10),
                            status="open",
                            opened_on=PERIOD_START + timedelta(days=index),
                            severity=("high", "medium", "low")[index % 3],
                        ),
                    ),
                )
            )
    passing = sum(1 for row in rows if row.status == ControlStatus.PASSING)
    applicable = sum(1 for row in rows if row.status != ControlStatus.NOT_APPLICABLE)
    score = (Decimal(passing * 100) / Decimal(max(applicable, 1))).quantize(Decimal("0.1"))
    return ReportData(
        organization="CloudExpress",
        period_start=period_start,
        period_end=period_end,
        generated_at=GENERATED_AT,
        run_id="run-2026-12-01",
        score=score,
        categories=tuple(
            NamedScore(code=prefix, name=name, score=Decimal(60 + 7 * n))
            for n, (name, prefix) in enumerate(CATEGORIES)
        ),
        criteria=tuple(
            NamedScore(code=f"CC{n}.1", name=f"Criterion CC{n}.1", score=Decimal(50 + n * 5))
            for n in range(1, 10)
        ),
        controls=tuple(rows),
        gaps=tuple(gaps),
        security=SecuritySummary(
            open_alerts=4,
            critical_alerts=1,
            incidents_open=1,
            failed_sign_ins=37,
            locked_accounts=2,
            mfa_coverage=Decimal("92.5"),
            alert_risks=((4, 5), (2, 3), (2, 3)),
            register_risks=((5, 1), (2, 3)),
        ),
        history=tuple(
            ScorePoint(at=period_start + timedelta(days=7 * n), score=Decimal(55 + n * 2))
            for n in range(10)
        ),
    )


def provider(*, period_start: date, period_end: date) -> ReportData:
    """The REPORTS_DATA_PROVIDER the report tests point the settings at."""
    return sample_report_data(period_start=period_start, period_end=period_end)


SAMPLE_PROVIDER = "tests.compliance.reports_sample.provider"


def reports_user(kind: str = "auditor", *, email: str | None = None) -> User:
    """A user of the operator organization holding the built-in role ``kind``."""
    from accounts.models import Organization
    from accounts.services import membership_create
    from tests import factories

    organization = Organization.objects.filter(is_operator=True).first()
    if organization is None:
        organization = factories.OrganizationFactory(
            name="CloudExpress", slug="cloudexpress", is_operator=True
        )
    user = factories.UserFactory(**({"email": email} if email else {}))
    membership_create(user=user, organization=organization, role=factories.builtin_role(kind))
    return user


def sample_runs_record() -> None:
    """Store two full runs, one in the sample period and one today, so the
    pages and the API accept the sample period and the default one; their
    content comes from the sample provider, not from these rows."""
    from django.utils import timezone

    from compliance.models import Framework, Run

    framework, _ = Framework.objects.get_or_create(
        code="reports-sample", version="1", defaults={"name": "Reports sample"}
    )
    for started_at in (datetime(2026, 11, 15, 6, 0, tzinfo=UTC), timezone.now()):
        Run.objects.create(
            framework=framework,
            status=Run.Status.DONE,
            scope=Run.Scope.FULL,
            started_at=started_at,
            finished_at=started_at,
            score=0.5,
        )
