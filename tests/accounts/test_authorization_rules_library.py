"""Pin the behaviour of the `rules` library the service relies on (read in
rules/predicates.py and rules/rulesets.py)."""

from __future__ import annotations

import rules

from accounts.authorization import ACCESS_RULES
from accounts.permissions import CATALOG


def test_a_one_argument_predicate_composes_with_a_two_argument_one() -> None:
    seen = []

    @rules.predicate
    def first(user) -> bool:
        seen.append(("first", user))
        return True

    @rules.predicate
    def second(user, target) -> bool:
        seen.append(("second", user, target))
        return True

    assert (first & second).test("u", "t") is True
    # rules trims the arguments to what each predicate takes.
    assert seen == [("first", "u"), ("second", "u", "t")]


def test_and_stops_at_the_first_false() -> None:
    calls = []

    @rules.predicate
    def no(user) -> bool:
        calls.append("no")
        return False

    @rules.predicate
    def expensive(user, target) -> bool:
        calls.append("expensive")
        return True

    assert (no & expensive).test("u", "t") is False
    assert calls == ["no"]


def test_a_rule_set_answers_false_for_an_unknown_name() -> None:
    assert rules.RuleSet().test_rule("anything", "u", "t") is False


def test_every_catalog_code_is_a_rule() -> None:
    assert set(CATALOG) <= set(ACCESS_RULES)
