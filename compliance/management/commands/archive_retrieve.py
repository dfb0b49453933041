"""Decrypt one retention archive for an authorised person.

    manage.py archive_retrieve ARCHIVE_ID --by person@example.com [--out FILE]

The person must hold ``retention.view`` and ``privacy.manage``; the
retrieval is recorded in the audit trail. Without --out the rows go to
standard output as JSON lines.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cloudexpress import requestcontext


class Command(BaseCommand):
    help = "Decrypt a retention archive (authorised people only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive_id", help="public id of the archive")
        parser.add_argument("--by", required=True, help="e-mail of the person retrieving")
        parser.add_argument("--out", help="file to write the rows to")

    def handle(self, *args: Any, **options: Any) -> None:
        from accounts.models import User
        from audit.models import AuditLogEntry
        from compliance.models import ArchiveObject
        from compliance.privacy.archive import archive_read
        from compliance.privacy.classification import REQUIRED_PERMISSION, classification_allows
        from compliance.privacy.permissions import user_has_permission

        person = User.objects.filter(email__iexact=options["by"], is_active=True).first()
        try:
            archive = ArchiveObject.objects.get(public_id=options["archive_id"])
        except (ArchiveObject.DoesNotExist, ValueError) as exc:
            raise CommandError("no such archive") from exc
        # retention.view, and what the archive's classification takes
        # (privacy.manage for the Restricted default), both asked of the
        # authorization service.
        if (
            person is None
            or not user_has_permission(person, "retention.view")
            or not classification_allows(person, archive.classification, obj=archive)
        ):
            needed = REQUIRED_PERMISSION[archive.classification] or "retention.view"
            raise CommandError(f"not authorised: retention.view and {needed} are required")

        with requestcontext.system_job("command:archive_retrieve"):
            requestcontext.set_actor(person.pk)
            rows = archive_read(archive)
            AuditLogEntry(
                content_type=ContentType.objects.get_for_model(ArchiveObject),
                object_pk=str(archive.pk),
                object_id=archive.pk,
                object_repr=f"Archive {archive.public_id} retrieved",
                action=AuditLogEntry.Action.ACCESS,
                additional_data={"rows": len(rows)},
            ).save()

        lines = "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows)
        if options.get("out"):
            with open(options["out"], "w", encoding="utf-8") as handle:
                handle.write(lines)
            self.stdout.write(f"{len(rows)} rows written")
        else:
            self.stdout.write(lines, ending="")
