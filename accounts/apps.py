from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and access"

    def ready(self) -> None:
        from accounts.auth import admin, receivers  # noqa: F401 - registers and connects
        from accounts.auth.revocation import terminated_user_revoke
        from accounts.termination import register_revoker

        register_revoker(terminated_user_revoke)
