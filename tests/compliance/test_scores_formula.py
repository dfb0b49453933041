"""The scoring formula, on hand-made inputs and on stored runs."""

from __future__ import annotations

import pytest

from compliance.models import Coverage, ResultStatus
from compliance.scoring import ControlInput, control_outcome, score_sheet

PASS, FAIL = ResultStatus.PASS, ResultStatus.FAIL
NA, NI, ERROR = ResultStatus.NOT_APPLICABLE, ResultStatus.NOT_IMPLEMENTED, ResultStatus.ERROR


def control(
    code: str,
    checks: list[str],
    *,
    attest: bool = False,
    current: bool = False,
    expired: str | None = None,
) -> ControlInput:
    return ControlInput(code, attest, checks, current, expired)


def test_control_score_is_the_weighted_share_of_passing_checks() -> None:
    results = {"a": (PASS, 3, ""), "b": (FAIL, 1, "broken")}
    outcome = control_outcome(control("X", ["a", "b"]), results)
    assert outcome.score == pytest.approx(0.75)
    assert outcome.status == "fail"
    assert outcome.coverage == Coverage.AUTOMATIC
    assert outcome.reasons == ["b: fail: broken"]


@pytest.mark.parametrize("status", [FAIL, ERROR, NI])
def test_fail_error_and_not_implemented_all_count_as_zero(status: str) -> None:
    outcome = control_outcome(control("X", ["a"]), {"a": (status, 1, "why")})
    assert outcome.score == 0.0
    assert outcome.status == "fail"


def test_not_implemented_only_control_has_no_coverage() -> None:
    outcome = control_outcome(control("X", ["a"]), {"a": (NI, 1, "not built")})
    assert outcome.coverage == Coverage.NONE


def test_not_applicable_checks_are_left_out_with_their_reason() -> None:
    results = {"a": (PASS, 1, ""), "b": (NA, 5, "no proxy in front")}
    outcome = control_outcome(control("X", ["a", "b"]), results)
    assert outcome.score == 1.0 and outcome.status == "pass"
    assert outcome.reasons == ["b: not applicable: no proxy in front"]


def test_a_control_whose_checks_are_all_not_applicable_is_not_applicable() -> None:
    outcome = control_outcome(control("X", ["a"]), {"a": (NA, 1, "embedded")})
    assert outcome.status == "not_applicable" and outcome.score is None


def test_a_control_with_no_check_and_no_attestation_scores_zero() -> None:
    outcome = control_outcome(control("X", []), {})
    assert outcome.score == 0.0
    assert outcome.status == "fail"
    assert outcome.reasons == ["no check and no current attestation"]
    assert outcome.coverage == Coverage.NONE


def test_a_current_attestation_proves_a_control_without_checks() -> None:
    outcome = control_outcome(control("X", [], current=True), {})
    assert outcome.status == "pass"
    assert outcome.coverage == Coverage.ATTESTATION


def test_an_expired_attestation_fails_a_control_that_needs_one() -> None:
    results = {"a": (PASS, 1, "")}
    outcome = control_outcome(
        control("X", ["a"], attest=True, current=False, expired="2026-01-31"), results
    )
    assert outcome.score == pytest.approx(0.5)
    assert outcome.status == "fail"
    assert "attestation expired on 2026-01-31" in outcome.reasons


def test_criterion_category_and_overall_scores() -> None:
    controls = [control("P", ["a"]), control("F", ["b"]), control("N", ["c"])]
    results = {"a": (PASS, 1, ""), "b": (FAIL, 1, "x"), "c": (NA, 1, "embedded")}
    sheet = score_sheet(
        controls=controls,
        results=results,
        criteria=[("CC1.1", "CC"), ("CC1.2", "CC"), ("A1.1", "A"), ("A1.2", "A"), ("C1.1", "C")],
        categories=["CC", "A", "C"],
        controls_by_criterion={"CC1.1": ["P"], "CC1.2": ["P", "F"], "A1.1": ["N"], "C1.1": ["P"]},
    )
    by_code = {c.code: c for c in sheet.criteria}
    assert by_code["CC1.1"].score == 1.0 and by_code["CC1.1"].passed
    assert by_code["CC1.2"].score == 0.5 and not by_code["CC1.2"].passed
    assert by_code["A1.1"].score is None  # only a not-applicable control
    assert by_code["A1.2"].score == 0.0  # no control at all: a gap, never hidden
    categories = {c.code: c for c in sheet.categories}
    assert categories["CC"].score == 0.75
    assert categories["A"].score == 0.0 and categories["A"].criteria_total == 1
    # Overall: mean of applicable criteria (1.0, 0.5, 0.0, 1.0).
    assert sheet.overall == pytest.approx(0.625)
    assert sheet.coverage["controls"] == {"automatic": 3, "attestation": 0, "none": 0}
    assert sheet.coverage["criteria"]["none"] == 1
