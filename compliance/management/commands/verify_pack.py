"""``manage.py verify_pack FILE``: is this a pack the portal produced, unchanged?"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cloudexpress import requestcontext
from compliance.reports.services import report_pack_verify


class Command(BaseCommand):
    help = "Check a PDF pack against the portal's record of its SHA-256 and signature."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"no such file: {path.name}")
        with requestcontext.system_job("command:verify_pack"):
            result = report_pack_verify(content=path.read_bytes())
        self.stdout.write(f"sha256: {result.sha256}")
        if not result.is_valid:
            raise CommandError(f"{result.outcome}: {result.detail}")
        self.stdout.write(self.style.SUCCESS(f"valid: {result.detail}"))
