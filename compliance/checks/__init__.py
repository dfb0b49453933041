"""Automated checks, one module per area; see ``registry`` for the contract."""

from compliance.checks.registry import (
    CheckContext,
    CheckSpec,
    ModelMissing,
    Outcome,
    check,
    evaluate,
    failed,
    get,
    judged,
    load_all,
    not_applicable,
    not_implemented,
    optional_model,
    passed,
    registered,
)

__all__ = [
    "CheckContext",
    "CheckSpec",
    "ModelMissing",
    "Outcome",
    "check",
    "evaluate",
    "failed",
    "get",
    "judged",
    "load_all",
    "not_applicable",
    "not_implemented",
    "optional_model",
    "passed",
    "registered",
]
