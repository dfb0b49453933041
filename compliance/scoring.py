"""How a run becomes a score.

The formula, in the words the compliance page and the README use:

1. **Check result.** Each check gives pass (1), or fail, error or
   not implemented (all 0). A not-applicable result carries a written reason
   and is left out of its control.
2. **Control score.** The weighted share of its applicable checks that
   passed, each check counting by its weight. A control that needs a
   person's proof (``requires_attestation``), or that has no check at all,
   also counts its attestation as one more part of weight 1: 1 when a
   reviewed attestation is current, 0 when there is none or it expired.
   A control with no check and no current attestation therefore scores 0.
   A control passes only at 1. It is not applicable only when every check
   it has is not applicable and it needs no attestation.
3. **Criterion score.** The mean of the scores of its applicable controls.
   A criterion no control maps to scores 0 (a gap is never hidden). It
   passes only when every applicable control passes.
4. **Category score.** The mean of its criteria's scores.
5. **Overall score.** The mean of the scores of all applicable criteria of
   the catalog version the run is judged by, each criterion counting the
   same, shown as a percentage.

**Coverage**, beside the score, says how each control (and criterion) is
proven: *automatic* when at least one of its checks is implemented
(it returned anything but not implemented); *attestation* when it is proven
only by a current attestation; *none* otherwise. A criterion takes the best
coverage among its controls.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from compliance.models import Coverage, ResultStatus

FORMULA_VERSION = 1

FORMULA_SUMMARY = (
    "Control score = weighted share of its applicable checks that passed "
    "(plus its attestation as one part when it needs one or has no check). "
    "Criterion score = mean of its controls' scores (0 with no control). "
    "Category score = mean of its criteria. Overall = mean of all applicable "
    "criteria. Not applicable results need a reason and are left out; "
    "fail, error and not implemented count as 0."
)

_COVERAGE_RANK: dict[str, int] = {
    Coverage.NONE: 0,
    Coverage.ATTESTATION: 1,
    Coverage.AUTOMATIC: 2,
}


@dataclass
class ControlInput:
    code: str
    requires_attestation: bool
    check_ids: list[str]
    attestation_current: bool
    attestation_expired_at: str | None = None


@dataclass
class ControlOutcome:
    code: str
    status: str  # pass, fail, not_applicable
    score: float | None
    coverage: str
    reasons: list[str] = field(default_factory=list)


@dataclass
class CriterionOutcome:
    code: str
    category: str
    score: float | None
    passed: bool
    controls_total: int
    controls_passing: int
    coverage: str


@dataclass
class CategoryOutcome:
    code: str
    score: float | None
    criteria_total: int
    criteria_passing: int


@dataclass
class ScoreSheet:
    controls: dict[str, ControlOutcome]
    criteria: list[CriterionOutcome]
    categories: list[CategoryOutcome]
    overall: float | None
    coverage: dict[str, Any]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def control_outcome(
    control: ControlInput, results: dict[str, tuple[str, int, str]]
) -> ControlOutcome:
    """Score one control from its check results (status, weight, reason)."""
    parts: list[tuple[int, float]] = []
    reasons: list[str] = []
    implemented = False
    for check_id in control.check_ids:
        status, weight, reason = results.get(
            check_id, (ResultStatus.NOT_IMPLEMENTED, 1, "the check did not run")
        )
        if status != ResultStatus.NOT_IMPLEMENTED:
            implemented = True
        if status == ResultStatus.NOT_APPLICABLE:
            reasons.append(f"{check_id}: not applicable: {reason}")
            continue
        parts.append((weight, 1.0 if status == ResultStatus.PASS else 0.0))
        if status != ResultStatus.PASS:
            reasons.append(f"{check_id}: {status}: {reason}")

    needs_attestation = control.requires_attestation or not control.check_ids
    if needs_attestation:
        parts.append((1, 1.0 if control.attestation_current else 0.0))
        if not control.attestation_current:
            if control.attestation_expired_at:
                reasons.append(f"attestation expired on {control.attestation_expired_at}")
            elif not control.check_ids:
                reasons.append("no check and no current attestation")
            else:
                reasons.append("no current attestation")

    if implemented:
        coverage = Coverage.AUTOMATIC
    elif control.attestation_current:
        coverage = Coverage.ATTESTATION
    else:
        coverage = Coverage.NONE

    if not parts:
        return ControlOutcome(control.code, "not_applicable", None, coverage, reasons)
    total_weight = sum(weight for weight, _ in parts)
    score = sum(weight * value for weight, value in parts) / total_weight
    status = "pass" if score >= 1.0 else "fail"
    return ControlOutcome(control.code, status, score, coverage, reasons)


def score_sheet(
    *,
    controls: list[ControlInput],
    results: dict[str, tuple[str, int, str]],
    criteria: list[tuple[str, str]],
    categories: list[str],
    controls_by_criterion: dict[str, list[str]],
) -> ScoreSheet:
    """Compute every score of a run. ``criteria`` are (code, category code)
    in catalog order."""
    outcomes = {c.code: control_outcome(c, results) for c in controls}

    criterion_outcomes = []
    for code, category in criteria:
        mapped = [outcomes[c] for c in controls_by_criterion.get(code, []) if c in outcomes]
        applicable = [o for o in mapped if o.status != "not_applicable"]
        coverage: str = max(
            (o.coverage for o in mapped), key=_COVERAGE_RANK.__getitem__, default=Coverage.NONE
        )
        if mapped and not applicable:
            score = None
        else:
            score = _mean([o.score or 0.0 for o in applicable]) or 0.0
        passing = sum(1 for o in applicable if o.status == "pass")
        criterion_outcomes.append(
            CriterionOutcome(
                code,
                category,
                score,
                bool(applicable) and passing == len(applicable),
                len(applicable),
                passing,
                coverage,
            )
        )

    by_category: dict[str, list[CriterionOutcome]] = defaultdict(list)
    for outcome in criterion_outcomes:
        by_category[outcome.category].append(outcome)
    category_outcomes = []
    for category in categories:
        members = [o for o in by_category.get(category, []) if o.score is not None]
        category_outcomes.append(
            CategoryOutcome(
                category,
                _mean([o.score for o in members if o.score is not None]),
                len(members),
                sum(1 for o in members if o.passed),
            )
        )

    overall = _mean([o.score for o in criterion_outcomes if o.score is not None])
    return ScoreSheet(
        outcomes,
        criterion_outcomes,
        category_outcomes,
        overall,
        coverage_summary(list(outcomes.values()), criterion_outcomes),
    )


def coverage_summary(
    controls: list[ControlOutcome], criteria: list[CriterionOutcome]
) -> dict[str, Any]:
    def count(items: list[Any]) -> dict[str, int]:
        tally = {c.value: 0 for c in Coverage}
        for item in items:
            tally[item.coverage] += 1
        return tally

    return {
        "controls": count(controls),
        "criteria": count(criteria),
        "controls_total": len(controls),
        "criteria_total": len(criteria),
    }
