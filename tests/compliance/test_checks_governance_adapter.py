"""The adapter that registers the governance rules as checks.

The rules live on the governance branch; here a stand-in module with the
same contract (a function returning status, evidence and failing rows)
proves the translation, and the real module's absence proves
``not_implemented``.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest

from compliance.checks import registry
from compliance.checks.registers import GOVERNANCE_CHECKS, GOVERNANCE_MODULE
from compliance.models import ResultStatus

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class RuleResult:
    status: str
    evidence: dict[str, Any] = field(default_factory=dict)
    failing: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def rules(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType(GOVERNANCE_MODULE)
    monkeypatch.setitem(sys.modules, GOVERNANCE_MODULE, module)
    return module


def test_without_the_governance_module_every_rule_is_not_implemented(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The registers are built, so hide their module: an import of it then
    # fails as it would in a deployment without them.
    monkeypatch.setitem(sys.modules, GOVERNANCE_MODULE, None)
    for check_id, *_ in GOVERNANCE_CHECKS:
        outcome = registry.evaluate(registry.get(check_id)).outcome
        assert outcome.status == ResultStatus.NOT_IMPLEMENTED


def test_a_failing_rule_lists_its_rows(rules: types.ModuleType) -> None:
    rules.policies_reviewed_within_12_months = lambda: RuleResult(
        "fail",
        {"policies": 2, "as_of": date(2026, 12, 4)},
        [{"name": "Access policy", "reason": "never reviewed"}],
    )
    outcome = registry.evaluate(registry.get("gov-policies-reviewed")).outcome
    assert outcome.status == ResultStatus.FAIL
    assert outcome.failing == ["Access policy: never reviewed"]
    assert outcome.evidence == {"policies": 2, "as_of": "2026-12-04"}


def test_a_passing_rule_passes_and_a_missing_rule_is_not_implemented(
    rules: types.ModuleType,
) -> None:
    rules.risks_high_treated_and_reviewed = lambda: RuleResult("pass", {"high_risks": 3})
    assert registry.evaluate(registry.get("gov-risks-treated")).outcome.status == "pass"
    missing = registry.evaluate(registry.get("gov-dr-test")).outcome
    assert missing.status == ResultStatus.NOT_IMPLEMENTED
    assert "continuity_dr_test_met_objectives" in missing.reason


def test_a_not_applicable_rule_keeps_a_reason(rules: types.ModuleType) -> None:
    rules.vendor_disclosures_backed_by_consent = lambda: RuleResult(
        "not_applicable", {"reason": "no personal data is disclosed"}
    )
    outcome = registry.evaluate(registry.get("gov-disclosures-consented")).outcome
    assert outcome.status == ResultStatus.NOT_APPLICABLE
    assert outcome.reason == "no personal data is disclosed"
