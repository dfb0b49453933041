from django.apps import AppConfig


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
