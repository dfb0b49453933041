"""Readiness for a SOC 2 Type II observation window.

Type II is about operating effectiveness over time, not a snapshot. For a
window of days this reports:

* per criterion, the share of days on which it passed: the last full run of
  each day decides the day, and a day without a run counts as not passed;
* per recurring control, the occurrences expected in the window against the
  ones recorded (``Run`` rows for the compliance run, ``JobRun`` rows for the
  other jobs), each miss listed by date;
* the blockers, and whether the window is ready.

A fixed number of queries, whatever the length of the window.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from django.apps import apps
from django.utils import timezone

from compliance.models import ControlScore, CriterionScore, Framework, JobRun, Run
from compliance.policy import RECURRING_JOBS, RecurringJob

MIN_WINDOW_DAYS = 90
MIN_DAILY_SHARE = 0.95
READINESS_JOBS = (
    "compliance.run_checks",
    "retention",
    "backup",
    "accounts.access_review_start",
    "compliance.training_refresher",
    "compliance.dr_test",
)


def _slot(moment: datetime, period: str) -> str:
    moment = timezone.localtime(moment)
    if period == "hour":
        return moment.strftime("%Y-%m-%dT%H:00")
    if period == "day":
        return moment.date().isoformat()
    if period == "month":
        return moment.strftime("%Y-%m")
    if period == "quarter":
        return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"
    if period == "year":
        return str(moment.year)
    raise ValueError(period)


def _expected_slots(low: datetime, high: datetime, period: str) -> list[str]:
    """Every slot that starts or runs inside [low, high)."""
    step = timedelta(hours=1) if period == "hour" else timedelta(days=1)
    slots: list[str] = []
    moment = low
    while moment < high:
        slot = _slot(moment, period)
        if not slots or slots[-1] != slot:
            slots.append(slot)
        moment += step
    return slots


def readiness_for_window(start: date, end: date, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    tz = timezone.get_current_timezone()
    today = timezone.localdate(now)
    end = min(end, today)
    if end < start:
        raise ValueError("the window ends before it starts")
    low = datetime.combine(start, time.min, tzinfo=tz)
    high = min(datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz), now)
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]

    # The last full run of each day decides that day.
    runs = Run.objects.filter(
        status=Run.Status.DONE, scope=Run.Scope.FULL, started_at__gte=low, started_at__lt=high
    ).values_list("pk", "started_at")
    deciding: dict[date, int] = {}
    run_days: list[datetime] = []
    for pk, started_at in runs.order_by("started_at", "pk"):
        deciding[timezone.localdate(started_at)] = pk
        run_days.append(started_at)
    day_of_run = {pk: day for day, pk in deciding.items()}

    framework = Framework.objects.filter(is_current=True).first()
    criteria = (
        list(framework.criteria.order_by("order").values_list("code", "title"))
        if framework
        else []
    )
    passed_days: dict[str, set[date]] = defaultdict(set)
    for run_id, code, passed in CriterionScore.objects.filter(
        run_id__in=list(day_of_run)
    ).values_list("run_id", "criterion__code", "passed"):
        if passed:
            passed_days[code].add(day_of_run[run_id])

    criterion_rows: list[dict[str, Any]] = []
    for code, title in criteria:
        ok = passed_days.get(code, set())
        failed_days = [d.isoformat() for d in days if d not in ok]
        criterion_rows.append(
            {
                "code": code,
                "title": title,
                "days": len(days),
                "days_passed": len(ok),
                "share": round(len(ok) / len(days), 4) if days else 0.0,
                "days_not_passed": failed_days,
            }
        )

    recurring_rows = _recurring(low, high, run_days)

    blockers: list[str] = []
    if len(days) < MIN_WINDOW_DAYS:
        blockers.append(
            f"the window spans {len(days)} days; a Type II period needs at least {MIN_WINDOW_DAYS}"
        )
    missing_run_days = [d for d in days if d not in deciding]
    if missing_run_days:
        blockers.append(f"{len(missing_run_days)} day(s) without a compliance run")
    for row in criterion_rows:
        if row["share"] < MIN_DAILY_SHARE:
            blockers.append(
                f"{row['code']} passed on {row['days_passed']} of {row['days']} days "
                f"(needs {MIN_DAILY_SHARE:.0%})"
            )
    for row in recurring_rows:
        if row["missed"]:
            blockers.append(f"{row['title']}: {row['missed']} missed occurrence(s)")
    latest = max(deciding.values(), default=None)
    failing_controls: list[str] = []
    if latest is not None:
        failing_controls = list(
            ControlScore.objects.filter(run_id=latest, status=ControlScore.Status.FAIL)
            .order_by("control__code")
            .values_list("control__code", flat=True)
        )
        if failing_controls:
            blockers.append(f"{len(failing_controls)} control(s) fail in the latest run")
    return {
        "window": {"from": start.isoformat(), "to": end.isoformat(), "days": len(days)},
        "ready": not blockers,
        "blockers": blockers,
        "criteria": criterion_rows,
        "recurring": recurring_rows,
        "failing_controls": failing_controls,
        "rules": {
            "min_window_days": MIN_WINDOW_DAYS,
            "min_daily_share": MIN_DAILY_SHARE,
            "day_decided_by": "the last full run of the day",
        },
    }


def _record_slots(job: RecurringJob, low: datetime, high: datetime) -> set[str]:
    record = job.record
    assert record is not None
    model = apps.get_model(record.model)
    # Truncated by the database to the period (a year of completions is one
    # row, not one per person), in the same time zone as the slots.
    kind = job.period if job.period in ("year", "month") else "day"
    stamps = model._default_manager.filter(
        **dict(record.where),
        **{f"{record.field}__gte": low, f"{record.field}__lt": high},
    ).datetimes(record.field, kind)
    return {_slot(stamp, job.period) for stamp in stamps}


def _recurring(low: datetime, high: datetime, run_times: list[datetime]) -> list[dict[str, Any]]:
    jobs: list[RecurringJob] = [j for j in RECURRING_JOBS if j.key in READINESS_JOBS]
    recorded: dict[str, set[str]] = defaultdict(set)
    periods = {job.key: job.period for job in jobs if job.record is None}
    for key, started_at in JobRun.objects.filter(
        job__in=list(periods), status=JobRun.Status.DONE, started_at__gte=low, started_at__lt=high
    ).values_list("job", "started_at"):
        recorded[key].add(_slot(started_at, periods[key]))
    # Activities people perform are counted from the register rows that
    # record them: one query each, a fixed number whatever the rows.
    for job in jobs:
        if job.record is not None:
            recorded[job.key] |= _record_slots(job, low, high)
    for started_at in run_times:
        recorded["compliance.run_checks"].add(_slot(started_at, "day"))

    rows = []
    for job in jobs:
        expected = _expected_slots(low, high, job.period)
        have = recorded.get(job.key, set())
        misses = [slot for slot in expected if slot not in have]
        if job.period == "hour":
            by_date: dict[str, list[str]] = defaultdict(list)
            for slot in misses:
                by_date[slot[:10]].append(slot[11:16])
            listed: list[dict[str, Any]] = [
                {"date": day, "missing_hours": hours} for day, hours in sorted(by_date.items())
            ]
        else:
            listed = [{"date": slot} for slot in misses]
        rows.append(
            {
                "job": job.key,
                "title": job.title,
                "control": job.control,
                "period": job.period,
                "expected": len(expected),
                "recorded": len(expected) - len(misses),
                "missed": len(misses),
                "misses": listed,
            }
        )
    return rows
