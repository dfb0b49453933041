"""Checks over the governance registers (policies, training, vendors, risks,
changes, continuity).

The registers and their rules live in ``compliance.governance.checks`` as
plain functions that return a status, evidence and failing rows; this module
registers each of them under the engine's ``@check``. Until that module
exists the checks are ``not_implemented``.
"""

from __future__ import annotations

import importlib
from typing import Any

from compliance.checks.registry import (
    CheckContext,
    Outcome,
    check,
    failed,
    not_applicable,
    not_implemented,
    passed,
)

GOVERNANCE_MODULE = "compliance.governance.checks"

# check id, function in the governance module, controls, weight, title
GOVERNANCE_CHECKS: tuple[tuple[str, str, list[str], int, str], ...] = (
    (
        "gov-policies-reviewed",
        "policies_reviewed_within_12_months",
        ["CX-POL-01"],
        1,
        "Every policy was reviewed within the last 12 months.",
    ),
    (
        "gov-policies-acknowledged",
        "policies_acknowledged_by_active_members",
        ["CX-COM-01"],
        1,
        "Every active member acknowledged the current version of each required policy.",
    ),
    (
        "gov-training-onboarding",
        "training_onboarding_within_30_days",
        ["CX-HR-01"],
        1,
        "Every member finished onboarding training within 30 days of joining.",
    ),
    (
        "gov-training-refresher",
        "training_annual_refresher_within_12_months",
        ["CX-HR-01"],
        1,
        "Every member took the annual refresher within 12 months.",
    ),
    (
        "gov-vendors-assessed",
        "vendors_assessed_within_cadence",
        ["CX-VEN-01"],
        1,
        "Every vendor was assessed within its review cadence.",
    ),
    (
        "gov-vendor-agreements",
        "vendor_agreements_current",
        ["CX-VEN-01", "CX-PRV-06"],
        1,
        "Every vendor works under a current agreement.",
    ),
    (
        "gov-vendor-reports",
        "vendor_compliance_reports_current",
        ["CX-VEN-01"],
        1,
        "Vendors holding sensitive data have a current compliance report.",
    ),
    (
        "gov-disclosures-consented",
        "vendor_disclosures_backed_by_consent",
        ["CX-PRV-06"],
        2,
        "Every disclosure of personal data rests on a recorded consent.",
    ),
    (
        "gov-risks-treated",
        "risks_high_treated_and_reviewed",
        ["CX-RSK-01"],
        1,
        "Every high risk has a treatment and a review within its period.",
    ),
    (
        "gov-changes-approved",
        "changes_deployments_approved_before_deploy",
        ["CX-CHG-01"],
        2,
        "Every deployment had a change approved by someone else before it went live.",
    ),
    (
        "gov-dr-test",
        "continuity_dr_test_met_objectives",
        ["CX-BCK-01"],
        2,
        "A disaster recovery test within 12 months met the RTO and RPO.",
    ),
)


def _describe(row: Any) -> str:
    if isinstance(row, dict):
        reason = row.get("reason", "")
        name = next((str(row[k]) for k in ("name", "title", "code", "id") if k in row), "")
        return f"{name}: {reason}".strip(": ") or str(row)
    return str(row)


def governance_outcome(function_name: str) -> Outcome:
    """Call one governance rule and translate its result."""
    try:
        module = importlib.import_module(GOVERNANCE_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name not in {GOVERNANCE_MODULE, "compliance.governance"}:
            raise
        return not_implemented("the governance registers are not built yet")
    function = getattr(module, function_name, None)
    if function is None:
        return not_implemented(f"the governance rule {function_name} does not exist yet")
    result = function()
    evidence = dict(getattr(result, "evidence", {}) or {})
    failing = [_describe(row) for row in getattr(result, "failing", []) or []]
    if result.status == "pass":
        return passed("the register meets the rule", **evidence)
    if result.status == "not_applicable":
        reason = str(evidence.pop("reason", "") or "the register says the rule does not apply")
        return not_applicable(reason, **evidence)
    return failed(f"{len(failing)} register entr(ies) break the rule", failing, **evidence)


def _register(
    check_id: str, function_name: str, controls: list[str], weight: int, title: str
) -> None:
    def run(ctx: CheckContext) -> Outcome:
        return governance_outcome(function_name)

    run.__doc__ = title
    run.__name__ = function_name
    check(check_id, controls=controls, weight=weight)(run)


for _spec in GOVERNANCE_CHECKS:
    _register(*_spec)
