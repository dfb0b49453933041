"""Run the compliance checks now and print the score."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cloudexpress import requestcontext
from compliance import selectors
from compliance.runs import RunInProgress, checks_run


class Command(BaseCommand):
    help = "Evaluate every check (or only the named ones) as one run and print the score."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--only", action="append", metavar="ID", help="run only this check (repeatable)"
        )
        parser.add_argument("--quiet", action="store_true", help="print the score line only")

    def handle(self, *args: Any, **options: Any) -> None:
        with requestcontext.system_job("run_checks"):
            try:
                run = checks_run(only=options["only"], trigger="command")
            except RunInProgress as exc:
                raise CommandError(str(exc)) from exc
            except KeyError as exc:
                raise CommandError(str(exc.args[0])) from exc

        if not options["quiet"]:
            for result in run.results.order_by("check_id"):
                line = f"  {result.status:16} {result.check_id}"
                if result.status != "pass":
                    line += f"  {result.reason}"
                self.stdout.write(line)
        if run.scope == run.Scope.PARTIAL:
            self.stdout.write(
                f"Run #{run.pk}: {run.checks_passing}/{run.checks_total} checks passed "
                "(partial run, no score)"
            )
            return
        summary = selectors.run_summary(run)
        self.stdout.write(
            f"Run #{run.pk}: compliance score {summary['score_display']} "
            f"({run.controls_passing}/{run.controls_total} controls passing, "
            f"{run.checks_passing}/{run.checks_total} checks passed)"
        )
