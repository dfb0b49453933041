"""Re-encrypt encrypted fields under the current key after adding a key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from cloudexpress import requestcontext
from cloudexpress.fields import encrypted_fields_rotate


class Command(BaseCommand):
    help = "Re-encrypt every value sealed by an older field-encryption key."

    def handle(self, *args: Any, **options: Any) -> None:
        with requestcontext.system_job("fields_reencrypt"):
            counts = encrypted_fields_rotate()
        for label, count in sorted(counts.items()):
            self.stdout.write(f"{label}: {count} re-encrypted")
