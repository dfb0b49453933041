"""The check registry and what a check returns.

A check is a function that reads live state (the database, the settings, a
service) and returns an ``Outcome``. It never writes: the runner evaluates
each check inside a savepoint that is always rolled back, and it never
raises for a failed control. An exception becomes an ``error`` result; a
model that another area has not built yet becomes ``not_implemented``,
which counts as failing.
"""

from __future__ import annotations

import importlib
import json
import logging
import pkgutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from compliance.models import ResultStatus

logger = logging.getLogger(__name__)

MAX_FAILING_OBJECTS = 50


@dataclass
class Outcome:
    status: str
    reason: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    failing: list[Any] = field(default_factory=list)


def passed(reason: str = "", **evidence: Any) -> Outcome:
    return Outcome(ResultStatus.PASS, reason, evidence)


def failed(reason: str, failing: list[Any] | None = None, **evidence: Any) -> Outcome:
    return Outcome(ResultStatus.FAIL, reason, evidence, list(failing or []))


def not_applicable(reason: str, **evidence: Any) -> Outcome:
    return Outcome(ResultStatus.NOT_APPLICABLE, reason, evidence)


def not_implemented(reason: str, **evidence: Any) -> Outcome:
    return Outcome(ResultStatus.NOT_IMPLEMENTED, reason, evidence)


def judged(
    ok: bool, reason_ok: str, reason_fail: str, failing: list[Any] | None = None, **evidence: Any
) -> Outcome:
    """Pass or fail on one condition, with the same evidence either way."""
    if ok:
        return passed(reason_ok, **evidence)
    return failed(reason_fail, failing, **evidence)


class ModelMissing(LookupError):
    """The area that owns a model has not built it yet."""


def optional_model(*labels: str) -> type[models.Model]:
    """Return the first installed model of ``labels`` ("app.Model").

    Used for areas other engineers build: until one of the models exists,
    the check that needs it is ``not_implemented``.
    """
    for label in labels:
        try:
            return apps.get_model(label)
        except (LookupError, ValueError):
            continue
    raise ModelMissing(f"not built yet: none of {', '.join(labels)} is installed")


def model_field_names(model: type[models.Model]) -> set[str]:
    return {f.name for f in model._meta.get_fields()}


@dataclass(frozen=True)
class CheckContext:
    now: datetime
    run_id: int | None = None


CheckFunction = Callable[[CheckContext], Outcome]


@dataclass(frozen=True)
class CheckSpec:
    id: str
    function: CheckFunction
    controls: tuple[str, ...]
    weight: int
    title: str
    module: str


_REGISTRY: dict[str, CheckSpec] = {}


def _title(function: CheckFunction, check_id: str) -> str:
    """The docstring's whole first paragraph on one line: a title cut at the
    first line break stops mid-sentence wherever the docstring wrapped."""
    paragraph = (function.__doc__ or check_id).strip().split("\n\n")[0]
    return " ".join(paragraph.split())


def check(
    check_id: str, *, controls: list[str], weight: int = 1
) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check under ``check_id`` for the given control codes."""
    if not controls:
        raise ImproperlyConfigured(f"check {check_id} names no control")
    if weight < 1:
        raise ImproperlyConfigured(f"check {check_id} needs a positive weight")

    def register(function: CheckFunction) -> CheckFunction:
        if check_id in _REGISTRY and _REGISTRY[check_id].function is not function:
            raise ImproperlyConfigured(f"two checks are registered as {check_id}")
        _REGISTRY[check_id] = CheckSpec(
            check_id,
            function,
            tuple(controls),
            weight,
            _title(function, check_id),
            function.__module__,
        )
        return function

    return register


_loaded = False


def load_all() -> None:
    """Import every module of this package, and ``compliance_checks`` of
    every installed app, so that their checks register."""
    global _loaded
    if _loaded:
        return
    package = importlib.import_module("compliance.checks")
    for info in pkgutil.iter_modules(package.__path__):
        if info.name != "registry":
            importlib.import_module(f"compliance.checks.{info.name}")
    for app_config in apps.get_app_configs():
        try:
            importlib.import_module(f"{app_config.name}.compliance_checks")
        except ModuleNotFoundError as exc:
            if exc.name != f"{app_config.name}.compliance_checks":
                raise
    _loaded = True


def registered() -> dict[str, CheckSpec]:
    load_all()
    return dict(sorted(_REGISTRY.items()))


def get(check_id: str) -> CheckSpec:
    checks = registered()
    try:
        return checks[check_id]
    except KeyError:
        raise KeyError(f"no check is registered as {check_id!r}") from None


@contextmanager
def temporary(
    spec_id: str, function: CheckFunction, controls: list[str], weight: int = 1
) -> Iterator[CheckSpec]:
    """Register a check for the duration of a block (tests only)."""
    load_all()
    check(spec_id, controls=controls, weight=weight)(function)
    try:
        yield _REGISTRY[spec_id]
    finally:
        _REGISTRY.pop(spec_id, None)


@dataclass
class Evaluation:
    check_id: str
    outcome: Outcome
    query_count: int
    duration_ms: float


class _Rollback(Exception):
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


def _validated(outcome: Any) -> Outcome:
    if not isinstance(outcome, Outcome):
        raise TypeError(f"a check must return an Outcome, not {type(outcome).__name__}")
    if outcome.status not in ResultStatus.values:
        raise ValueError(f"unknown status {outcome.status!r}")
    if outcome.status == ResultStatus.NOT_APPLICABLE and not outcome.reason.strip():
        raise ValueError("not applicable needs a written reason")
    if outcome.status != ResultStatus.PASS and not outcome.reason.strip():
        raise ValueError("a result other than pass needs a reason")
    outcome.failing = [str(item) for item in outcome.failing[:MAX_FAILING_OBJECTS]]
    # Evidence is stored as JSON: dates, decimals and UUIDs become text here,
    # so one odd value cannot fail the whole run at insert.
    outcome.evidence = json.loads(json.dumps(outcome.evidence, cls=DjangoJSONEncoder, default=str))
    return outcome


def evaluate(spec: CheckSpec, context: CheckContext | None = None) -> Evaluation:
    """Run one check; never raise."""
    context = context or CheckContext(now=timezone.now())
    queries = 0

    def count(execute: Any, sql: str, params: Any, many: bool, ctx: Any) -> Any:
        nonlocal queries
        queries += 1
        return execute(sql, params, many, ctx)

    started = time.perf_counter()
    try:
        with connection.execute_wrapper(count):
            try:
                # The savepoint is always rolled back: a check only reads,
                # and a database error inside it cannot poison the run.
                with transaction.atomic():
                    raise _Rollback(spec.function(context))
            except _Rollback as rollback:
                outcome = _validated(rollback.outcome)
    except ModelMissing as exc:
        outcome = not_implemented(str(exc))
    except Exception as exc:  # a check that raises is an error result, not a crashed run
        logger.warning(
            "compliance.check_error",
            extra={"check_id": spec.id, "error": type(exc).__name__},
        )
        outcome = Outcome(ResultStatus.ERROR, f"{type(exc).__name__}: {exc}"[:1000])
    duration_ms = (time.perf_counter() - started) * 1000
    return Evaluation(spec.id, outcome, queries, duration_ms)
