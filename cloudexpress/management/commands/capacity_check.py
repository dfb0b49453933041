"""Compare the capacity figures with their thresholds (CAPACITY_THRESHOLDS
and the compliance policy's database limit); exit 1 when one is over, so a
cron job or a deploy pipeline can act on it without Prometheus."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cloudexpress.operations import capacity_figures


class Command(BaseCommand):
    help = "Compare queue depth, database size, latency and errors with their thresholds."

    def handle(self, *args: Any, **options: Any) -> None:
        over = []
        for figure in capacity_figures():
            verdict = {None: "no data", True: "within", False: "OVER"}[figure.ok]
            value = "unknown" if figure.value is None else f"{figure.value:g}"
            self.stdout.write(
                f"{figure.name}: {value} {figure.unit} (threshold {figure.limit:g}): {verdict}"
            )
            if figure.ok is False:
                over.append(figure.name)
        if over:
            raise CommandError(f"over threshold: {', '.join(over)}")
