"""Run detection now over every event after the cursor (what the beat job does)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand

from audit.detection.jobs import detection_job_run
from cloudexpress import requestcontext


class Command(BaseCommand):
    help = "Score new security events and run every detection rule over them."

    def handle(self, *args: Any, **options: Any) -> None:
        with requestcontext.system_job("command:detection_run"):
            counts = detection_job_run()
        self.stdout.write(json.dumps(counts, sort_keys=True))
