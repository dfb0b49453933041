from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save


def _role_graph_after_migrate(using: str, **kwargs: Any) -> None:
    from accounts.authorization import role_graph_triggers_ensure

    role_graph_triggers_ensure(using=using)


def _role_graph_stamp_loaded(raw: bool, using: str, **kwargs: Any) -> None:
    # Only loaddata saves raw: the token it wrote may name another graph.
    if raw:
        from accounts.authorization import role_graph_stamp_renew

        role_graph_stamp_renew(using=using)


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and access"

    def ready(self) -> None:
        # Importing the services registers the approval executors; the
        # middleware module holds the sign-in receiver.
        from accounts import auditing, middleware, services  # noqa: F401

        auditing.register_models()
        from accounts.auth import admin, receivers  # noqa: F401 - registers and connects
        from accounts.auth.revocation import terminated_user_revoke
        from accounts.termination import register_revoker

        register_revoker(terminated_user_revoke)

        from accounts.models import RoleGraphStamp

        post_migrate.connect(_role_graph_after_migrate, sender=self)
        post_save.connect(_role_graph_stamp_loaded, sender=RoleGraphStamp)
