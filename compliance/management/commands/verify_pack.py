"""``manage.py verify_pack FILE``: is this a pack the portal produced, unchanged?

Exit codes: 0 the pack is valid; 1 it is not (changed, unknown or with a bad
signature); 2 FILE cannot be checked (missing, a directory, unreadable).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cloudexpress import requestcontext
from compliance.reports.services import report_pack_verify

# The exit code when FILE is not a file the command can read.
UNUSABLE_FILE = 2


class Command(BaseCommand):
    help = (
        "Check a PDF pack against the portal's record of its SHA-256 and signature. "
        "Exits 0 when valid, 1 when not, 2 when the file cannot be read."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        content = _read(path)
        with requestcontext.system_job("command:verify_pack"):
            result = report_pack_verify(content=content)
        self.stdout.write(f"sha256: {result.sha256}")
        if not result.is_valid:
            raise CommandError(f"{result.outcome}: {result.detail}")
        self.stdout.write(self.style.SUCCESS(f"valid: {result.detail}"))


def _read(path: Path) -> bytes:
    """Return the file's bytes, or stop with a message that names the path
    as it was given."""
    if path.is_dir():
        raise CommandError(f"{path} is a directory, not a PDF pack", returncode=UNUSABLE_FILE)
    if not path.exists():
        raise CommandError(f"no such file: {path}", returncode=UNUSABLE_FILE)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CommandError(
            f"cannot read {path}: {exc.strerror}", returncode=UNUSABLE_FILE
        ) from exc
