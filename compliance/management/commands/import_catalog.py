"""Import a criteria catalog file (the shape of TSC-2017.yml) as a version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cloudexpress import requestcontext
from compliance.catalog import CatalogError, catalog_import


class Command(BaseCommand):
    help = (
        "Import a catalog of criteria as a new version beside the existing ones. "
        "Importing the same file under the same version again changes nothing."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # --version names the catalog version here, not Django's version, so
        # the later definition must win.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="a YAML catalog: name, then one entry per criterion id")
        parser.add_argument("--version", required=True, help="the version label, e.g. 2017-aicpa")
        parser.add_argument("--source", default="", help="where the text comes from")
        parser.add_argument(
            "--make-current",
            action="store_true",
            help="judge new runs by this version (earlier runs keep theirs)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read {path.name}: {exc.strerror}") from exc
        with requestcontext.system_job("import_catalog"):
            try:
                framework, created = catalog_import(
                    text,
                    version=options["version"],
                    source=options["source"] or path.name,
                    make_current=options["make_current"],
                )
            except CatalogError as exc:
                raise CommandError(str(exc)) from exc
        count = framework.criteria.count()
        state = "imported" if created else "already present, unchanged"
        current = " (current)" if framework.is_current else ""
        self.stdout.write(
            f"{framework.name} version {framework.version}{current}: {count} criteria, {state}"
        )
