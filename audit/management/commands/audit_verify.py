"""Verify both audit chains and name the first row that does not match."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit import verification
from audit.services import CHAINED_MODELS
from cloudexpress import requestcontext


class Command(BaseCommand):
    help = "Walk the audit entry and security event chains; exit 1 on the first bad row."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chunk-size", type=int, default=5000)
        parser.add_argument(
            "--skip-personal",
            action="store_true",
            help="Check links and hashed content only, not the personal-column digests.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        failed = []
        with requestcontext.system_job("command:audit_verify"):
            for model in CHAINED_MODELS:
                report = verification.verify_chain(
                    model,
                    chunk_size=options["chunk_size"],
                    check_personal=not options["skip_personal"],
                )
                summary = (
                    f"{report.chain}: {report.rows} rows "
                    f"(seq {report.first_seq}..{report.last_seq}), "
                    f"{report.anchors_checked} anchors matched, "
                    f"{report.erased_rows} rows pseudonymised"
                )
                if report.ok:
                    self.stdout.write(f"OK {summary}")
                else:
                    self.stdout.write(f"FAIL {report.chain}: {report.problem}")
                    failed.append(report)
        if failed:
            raise CommandError("; ".join(f"{report.chain} {report.problem}" for report in failed))
