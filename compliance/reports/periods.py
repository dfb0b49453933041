"""The report period: its default, its bounds in time, and the rules a period
must meet before anything is built for it.

Every page, export and API endpoint that takes a period reads it through
these functions, so the same dates mean the same days everywhere and an
auditor never sees one page default to a different quarter than another.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.utils import timezone

# The default period: the 90 days ending on the chosen last day, both ends
# included (a quarter's worth of daily runs).
DEFAULT_DAYS = 90

# The first and last days a period's bounds are computed for. A date beyond
# them has no next day (or, east of UTC, no previous instant) in Python's
# datetime, and no run was ever stored there.
_FIRST_DAY = date.min + timedelta(days=1)
_LAST_DAY = date.max - timedelta(days=2)

# The ends of a period as callers name them; each caller maps them onto its
# own field names (``period_start`` in the pack form, ``from`` in the API).
START = "start"
END = "end"


def report_period_default(*, end: date | None = None) -> tuple[date, date]:
    """Return the default period: the 90 days ending on ``end`` (today)."""
    end = end or timezone.localdate()
    length = timedelta(days=DEFAULT_DAYS - 1)
    # The first days of the calendar have fewer than 90 days before them.
    start = end - length if end - date.min >= length else date.min
    return start, end


def report_period_fill(start: date | None, end: date | None) -> tuple[date, date]:
    """Return the period with a missing end made today and a missing start
    the default length before the end."""
    default_start, default_end = report_period_default(end=end)
    return (start if start is not None else default_start), default_end


def report_period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """Return the period as [first instant, instant after its last day) in
    the current time zone; dates at the ends of the calendar are clamped."""
    tz = timezone.get_current_timezone()
    start = min(max(start, _FIRST_DAY), _LAST_DAY)
    end = min(max(end, _FIRST_DAY), _LAST_DAY)
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def report_period_has_full_run(start: date, end: date) -> bool:
    """Say whether a full compliance run completed that started in the period."""
    from compliance.models import Run

    low, high = report_period_bounds(start, end)
    return Run.objects.filter(
        status=Run.Status.DONE,
        scope=Run.Scope.FULL,
        started_at__gte=low,
        started_at__lt=high,
    ).exists()


def report_period_problems(
    start: date, end: date, *, today: date | None = None
) -> dict[str, list[str]]:
    """Return what keeps a period from being reported, by the end it concerns.

    A report describes what the stored runs showed: a period must end today
    or earlier, start on or before its last day, and hold at least one full
    run. An empty result means the period may be reported.
    """
    today = today or timezone.localdate()
    problems: dict[str, list[str]] = {}

    if end > today:
        problems.setdefault(END, []).append(
            f"The period must end today ({today.isoformat()}) or earlier."
        )
    if start > end:
        problems.setdefault(END, []).append("The period must end on or after its first day.")
    if problems:
        return problems

    if not report_period_has_full_run(start, end):
        problems[START] = [
            f"No full compliance run completed between {start.isoformat()} and "
            f"{end.isoformat()}; choose a period that holds one."
        ]
    return problems


def report_period_problems_text(problems: dict[str, list[str]]) -> str:
    """Return every problem of a period as one sentence for people."""
    return " ".join(message for messages in problems.values() for message in messages)
