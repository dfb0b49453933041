"""Load a threat-intelligence list (format in audit/detection/threatintel.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.detection import threatintel

SAMPLE = Path(threatintel.__file__).resolve().parent / "data" / "threatlist-sample.txt"


class Command(BaseCommand):
    help = "Import a list of known-bad addresses and ranges, offline, from a file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, nargs="?", default=None)
        parser.add_argument("--sample", action="store_true", help="Load the shipped sample.")
        parser.add_argument(
            "--keep", action="store_true", help="Add to the source's entries, do not replace."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = SAMPLE if options["sample"] else options["file"]
        if path is None:
            raise CommandError("name a file, or --sample")
        if not path.is_file():
            raise CommandError(f"{path.name}: no such file")
        try:
            counts = threatintel.threat_list_import(path=path, replace=not options["keep"])
        except threatintel.ThreatListError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps(counts, sort_keys=True))
