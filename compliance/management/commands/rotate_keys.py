"""Rotate the field-encryption key: make a new key, then re-encrypt under it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cloudexpress import requestcontext
from cloudexpress.keyring import KeyRingError


class Command(BaseCommand):
    help = (
        "With --new-key: make a new field-encryption key, record its creation time and "
        "print it once, to be put first in FIELD_ENCRYPTION_KEYS. Without: register the "
        "ring's keys, re-encrypt every value sealed by an older key in batches while the "
        "site runs, and retire the keys no value names any more."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--new-key", action="store_true", help="Make and record a new key.")
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        from compliance.privacy import keys

        with requestcontext.system_job("command:rotate_keys"):
            if options["new_key"]:
                spec, record = keys.encryption_key_generate()
                # Shown once on the operator's terminal; never logged.
                self.stdout.write(
                    f"New key {record.key_id} recorded. Put it first in FIELD_ENCRYPTION_KEYS, "
                    "keep the old keys behind it, roll it out, then run rotate_keys again:"
                )
                self.stdout.write(spec)
                return
            try:
                report = keys.encryption_keys_rotate(batch_size=options["batch_size"])
            except KeyRingError as exc:
                raise CommandError(str(exc)) from exc
        self.stdout.write(f"current key: {report.current}")
        for label, count in sorted(report.rewritten.items()):
            self.stdout.write(f"{label}: {count} re-encrypted")
        for label, count in sorted(report.remaining.items()):
            self.stdout.write(f"{label}: {count} still under an older key (run again)")
        if report.retired:
            self.stdout.write(f"retired: {', '.join(report.retired)} (may leave the ring)")
