"""Models of the compliance app, one module per concept."""

from compliance.models.catalog import Category, Criterion, Framework
from compliance.models.controls import (
    DUE_DAYS,
    Attestation,
    Classification,
    Control,
    Severity,
)
from compliance.models.jobs import JobRun
from compliance.models.runs import (
    ActionItem,
    CategoryScore,
    ControlScore,
    Coverage,
    CriterionScore,
    Result,
    ResultStatus,
    Run,
)

__all__ = [
    "DUE_DAYS",
    "ActionItem",
    "Attestation",
    "Category",
    "CategoryScore",
    "Classification",
    "Control",
    "ControlScore",
    "Coverage",
    "Criterion",
    "CriterionScore",
    "Framework",
    "JobRun",
    "Result",
    "ResultStatus",
    "Run",
    "Severity",
]
