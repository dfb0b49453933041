"""Checks over operations: workers, scheduled jobs, tasks, capacity, the
schema, remediation and the engine's own catalog."""

from __future__ import annotations

import shutil
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Exists, OuterRef

from cloudexpress import beat, dbvendor
from compliance.checks.registry import (
    CheckContext,
    Outcome,
    check,
    failed,
    judged,
    not_implemented,
    passed,
)
from compliance.models import (
    ActionItem,
    Control,
    Criterion,
    Framework,
    JobRun,
    RestoreTest,
    Run,
)
from compliance.policy import recurring_job, threshold


def _scheduled_tasks() -> set[str]:
    return {str(entry.get("task")) for entry in beat.BEAT_SCHEDULE.values()}


def _celery_app() -> Any:
    from cloudexpress.celery import app

    # The web process imports task modules lazily; load them so the
    # registry is complete.
    app.loader.import_default_modules()
    return app


def recurring_within_window(ctx: CheckContext, key: str) -> Outcome:
    job = recurring_job(key)
    if job.task not in _scheduled_tasks():
        return not_implemented(f"no beat entry runs {job.task}", job=job.key)
    last = (
        JobRun.objects.filter(job=job.key, status=JobRun.Status.DONE)
        .order_by("-started_at")
        .values_list("started_at", "finished_at")
        .first()
    )
    if last is None:
        return failed(f"{job.title} has never completed", [job.key], window=str(job.window))
    when = last[1] or last[0]
    age = ctx.now - when
    return judged(
        age <= job.window,
        f"{job.title} last completed {age} ago (window {job.window})",
        f"{job.title} last completed {age} ago, outside its window of {job.window}",
        [job.key],
        last_completed=when.isoformat(),
        window=str(job.window),
    )


@check("a-heartbeat", controls=["CX-MON-02", "CX-CAP-01"], weight=2)
def heartbeat(ctx: CheckContext) -> Outcome:
    """A worker reported its heartbeat within the last minutes."""
    window = timedelta(minutes=threshold("heartbeat_window_minutes"))
    last = (
        JobRun.objects.filter(job="heartbeat", status=JobRun.Status.DONE)
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    if last is None:
        return failed("no worker has reported a heartbeat", ["heartbeat"])
    age = ctx.now - last
    return judged(
        age <= window,
        f"last heartbeat {age} ago",
        f"last heartbeat {age} ago, outside {window}",
        ["heartbeat"],
        last=last.isoformat(),
        window=str(window),
    )


@check("cc-compliance-daily", controls=["CX-MON-01"], weight=2)
def compliance_daily(ctx: CheckContext) -> Outcome:
    """The compliance run is scheduled daily and the previous one is recent."""
    job = recurring_job("compliance.run_checks")
    if job.task not in _scheduled_tasks():
        return not_implemented(f"no beat entry runs {job.task}")
    previous = (
        Run.objects.filter(status=Run.Status.DONE, scope=Run.Scope.FULL)
        .exclude(pk=ctx.run_id or 0)
        .order_by("-started_at")
        .values_list("pk", "started_at")
        .first()
    )
    if previous is None:
        return failed("no earlier full run is recorded", ["compliance.run_checks"])
    age = ctx.now - previous[1]
    return judged(
        age <= job.window,
        f"the previous full run (#{previous[0]}) was {age} ago",
        f"the previous full run (#{previous[0]}) was {age} ago, outside {job.window}",
        [f"run {previous[0]}"],
        previous_run=previous[0],
    )


@check("cc-detection-job", controls=["CX-DET-01"], weight=2)
def detection_job(ctx: CheckContext) -> Outcome:
    """Detection over recent events ran within its window."""
    return recurring_within_window(ctx, "audit.detection_run")


@check("c-retention-job", controls=["CX-CON-02"], weight=2)
def retention_job(ctx: CheckContext) -> Outcome:
    """The retention job ran within the last day."""
    return recurring_within_window(ctx, "retention")


@check("a-backup-rpo", controls=["CX-BCK-01"], weight=3)
def backup_rpo(ctx: CheckContext) -> Outcome:
    """The last backup is within the recovery point objective."""
    return recurring_within_window(ctx, "backup")


@check("a-restore-test", controls=["CX-BCK-01"], weight=2)
def restore_test(ctx: CheckContext) -> Outcome:
    """A restore test succeeded within the last 30 days."""
    # The restore test records a RestoreTest row, not a JobRun: judge those.
    job = recurring_job("compliance.restore_test")
    if job.task not in _scheduled_tasks():
        return not_implemented(f"no beat entry runs {job.task}", job=job.key)
    last = (
        RestoreTest.objects.filter(status=RestoreTest.Status.PASSED)
        .order_by("-started_at")
        .values_list("pk", "started_at", "finished_at")
        .first()
    )
    if last is None:
        return failed("no restore test has ever passed", [job.key], window=str(job.window))
    when = last[2] or last[1]
    age = ctx.now - when
    return judged(
        age <= job.window,
        f"restore test {last[0]} passed {age} ago (window {job.window})",
        f"the last passing restore test is {age} old, outside its window of {job.window}",
        [f"restore test {last[0]}"],
        last_passed=when.isoformat(),
        window=str(job.window),
    )


@check("pi-jobs-succeed", controls=["CX-PI-01", "CX-MON-01"])
def jobs_succeed(ctx: CheckContext) -> Outcome:
    """No job failed in the last day without succeeding afterwards."""
    later_success = JobRun.objects.filter(
        job=OuterRef("job"), status=JobRun.Status.DONE, started_at__gt=OuterRef("started_at")
    )
    failures = (
        JobRun.objects.filter(
            status=JobRun.Status.FAILED, started_at__gte=ctx.now - timedelta(days=1)
        )
        .exclude(Exists(later_success))
        .order_by("job")
    )
    jobs = sorted(set(failures.values_list("job", flat=True)[:200]))
    return judged(
        not jobs,
        "every job that failed has since succeeded",
        f"{len(jobs)} job(s) failed and have not succeeded since",
        jobs,
    )


@check("pi-jobs-not-stuck", controls=["CX-PI-01"])
def jobs_not_stuck(ctx: CheckContext) -> Outcome:
    """No job has been queued or running longer than its hard limit."""
    limit = timedelta(hours=threshold("job_stuck_hours"))
    stuck = JobRun.objects.filter(
        status__in=(JobRun.Status.QUEUED, JobRun.Status.RUNNING), started_at__lt=ctx.now - limit
    ).order_by("started_at")
    count = stuck.count()
    return judged(
        count == 0,
        "no job is stuck",
        f"{count} job run(s) stuck for over {limit}",
        [f"{job} {slot or pk}" for pk, job, slot in stuck.values_list("pk", "job", "slot")[:50]],
    )


@check("pi-task-limits", controls=["CX-PI-01"])
def task_limits(ctx: CheckContext) -> Outcome:
    """Every task has a time limit, bounded retries and late acknowledgement."""
    app = _celery_app()
    problems = []
    names = sorted(name for name in app.tasks if not name.startswith("celery."))
    for name in names:
        task = app.tasks[name]
        if task.max_retries is None:
            problems.append(f"{name}: unbounded retries")
        if not (task.time_limit or app.conf.task_time_limit):
            problems.append(f"{name}: no hard time limit")
        if not (task.soft_time_limit or app.conf.task_soft_time_limit):
            problems.append(f"{name}: no soft time limit")
        acks_late = task.acks_late if task.acks_late is not None else app.conf.task_acks_late
        if not acks_late:
            problems.append(f"{name}: acknowledged before it runs")
    return judged(
        not problems,
        f"all {len(names)} tasks are bounded",
        "tasks are unbounded",
        problems,
        tasks=names,
    )


@check("pi-beat-tasks-registered", controls=["CX-PI-01"])
def beat_tasks_registered(ctx: CheckContext) -> Outcome:
    """Every scheduled job names a task that exists."""
    app = _celery_app()
    unknown = sorted(name for name in _scheduled_tasks() if name not in app.tasks)
    return judged(
        not unknown,
        "every beat entry names a registered task",
        "beat entries name tasks that do not exist",
        unknown,
        scheduled=sorted(_scheduled_tasks()),
    )


@check("a-disk-space", controls=["CX-CAP-01"])
def disk_space(ctx: CheckContext) -> Outcome:
    """The data volume keeps the minimum free space."""
    minimum = threshold("disk_free_min_percent")
    usage = shutil.disk_usage(settings.DATA_DIR)
    free_percent = round(usage.free * 100 / usage.total, 1)
    return judged(
        free_percent >= minimum,
        f"{free_percent}% free on the data volume",
        f"only {free_percent}% free on the data volume (minimum {minimum}%)",
        ["data volume"],
        free_percent=free_percent,
        minimum_percent=minimum,
    )


@check("a-database-size", controls=["CX-CAP-01"])
def database_size(ctx: CheckContext) -> Outcome:
    """The database stays below its planned size."""
    limit = threshold("database_max_bytes")
    size = dbvendor.database_size_bytes()
    return judged(
        size <= limit,
        f"the database holds {size} bytes",
        f"the database holds {size} bytes, over the planned {limit}",
        ["database"],
        bytes=size,
        limit=limit,
        vendor=connection.vendor,
    )


@check("a-capacity-thresholds", controls=["CX-CAP-01", "CX-MON-02"])
def capacity_thresholds(ctx: CheckContext) -> Outcome:
    """Queue depth, database size, request latency and error rate stay within
    the thresholds of ``CAPACITY_THRESHOLDS`` (the operations page's figures)."""
    from cloudexpress.operations import capacity_figures

    figures = capacity_figures()
    evidence = {
        "figures": [
            {"name": f.name, "value": f.value, "unit": f.unit, "limit": f.limit, "note": f.note}
            for f in figures
        ]
    }
    over = [f"{f.name}: {f.value} {f.unit} over {f.limit}" for f in figures if f.ok is False]
    # A broker that does not answer is a finding; latency and errors have no
    # figure yet in a process that served no request (a worker, a command).
    over += [f"{f.name}: {f.note}" for f in figures if f.ok is None and "not answer" in f.note]
    unknown = [f.name for f in figures if f.ok is None and "not answer" not in f.note]
    return judged(
        not over,
        f"every capacity figure within its threshold ({len(unknown)} not measured yet)",
        f"{len(over)} capacity figure(s) over their threshold",
        over,
        unmeasured=unknown,
        **evidence,
    )


@check("a-cache-reachable", controls=["CX-CAP-01"])
def cache_reachable(ctx: CheckContext) -> Outcome:
    """The cache answers."""
    cache = caches["default"]
    backend = type(cache).__name__
    try:
        cache.get("compliance:probe")
    except Exception as exc:  # an unreachable cache is the finding, not a crash
        return failed(
            f"the cache did not answer: {type(exc).__name__}", ["cache"], backend=backend
        )
    return passed(f"the {backend} answers", backend=backend)


@check("cc-migrations-applied", controls=["CX-CHG-01", "CX-PI-01"])
def migrations_applied(ctx: CheckContext) -> Outcome:
    """The database schema matches the released code."""
    # Every node, not only the plan to the leaves: a migration whose record
    # is missing under applied children is not in the leaves' plan.
    loader = MigrationExecutor(connection).loader
    applied = set(loader.applied_migrations or {})
    pending = [f"{app}.{name}" for app, name in sorted(set(loader.graph.nodes) - applied)]
    return judged(
        not pending,
        "every migration is applied",
        f"{len(pending)} migration(s) are not applied",
        pending,
    )


@check("cc-gaps-on-time", controls=["CX-MON-01", "CX-AUD-03"])
def gaps_on_time(ctx: CheckContext) -> Outcome:
    """No action item is past its due date."""
    overdue = ActionItem.objects.exclude(status=ActionItem.Status.CLOSED).filter(
        due_at__lt=ctx.now
    )
    count = overdue.count()
    return judged(
        count == 0,
        "no action item is overdue",
        f"{count} action item(s) overdue",
        [
            f"{code} due {due:%Y-%m-%d}"
            for code, due in overdue.values_list("control__code", "due_at")[:50]
        ],
    )


@check("cc-catalog-mapped", controls=["CX-MON-01"])
def catalog_mapped(ctx: CheckContext) -> Outcome:
    """Every criterion of the current catalog has at least one active control."""
    framework = Framework.objects.filter(is_current=True).first()
    if framework is None:
        return failed("no catalog version is current", ["catalog"])
    mapped = set(Control.objects.filter(is_active=True).values_list("criteria__code", flat=True))
    codes = list(Criterion.objects.filter(framework=framework).values_list("code", flat=True))
    unmapped = [code for code in codes if code not in mapped]
    return judged(
        not unmapped,
        f"all {len(codes)} criteria have a control",
        f"{len(unmapped)} criteria have no active control",
        unmapped,
        version=framework.version,
    )
