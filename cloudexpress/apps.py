"""The project package as an app: it registers its deploy checks and owns the
operations page's templates."""

from __future__ import annotations

from django.apps import AppConfig


class CloudExpressConfig(AppConfig):
    name = "cloudexpress"
    verbose_name = "CloudExpress platform"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from cloudexpress import security  # noqa: F401  (registers the deploy checks)
        from cloudexpress.dbvendor import sqlite_functions_register

        connection_created.connect(sqlite_functions_register, dispatch_uid="cx-sqlite-functions")
