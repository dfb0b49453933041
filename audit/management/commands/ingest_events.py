"""Import external security events from a file: JSON lines or a Linux auth log."""

from __future__ import annotations

import json
import zoneinfo
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from audit.detection import ingest


class Command(BaseCommand):
    help = "Import security events (JSON lines or auth-log syslog lines) and run detection."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", choices=["jsonl", "authlog"], required=True)
        parser.add_argument(
            "--year",
            type=int,
            default=None,
            help="Year of the first auth-log line (syslog lines carry none); default this year.",
        )
        parser.add_argument("--tz", default="UTC", help="Time zone the auth-log times are in.")
        parser.add_argument("--source", default="", help="Name recorded with each line.")
        parser.add_argument("--no-detect", action="store_true", help="Store only; skip rules.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path.name}: no such file")
        try:
            zoneinfo.ZoneInfo(options["tz"])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise CommandError(f"unknown time zone {options['tz']!r}") from None
        source = options["source"] or f"{options['format']}:{path.name}"
        with path.open(encoding="utf-8", errors="surrogateescape") as handle:
            if options["format"] == "authlog":
                parsed = ingest.parse_authlog(
                    handle, year=options["year"] or timezone.now().year, tz=options["tz"]
                )
            else:
                parsed = ingest.parse_jsonl(handle, strict=False)
            try:
                result = ingest.events_ingest(
                    parsed, source=source, detect=not options["no_detect"]
                )
            except ingest.IngestError as exc:
                raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps(result.as_dict(), sort_keys=True))
