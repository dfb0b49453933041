from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and access"

    def ready(self) -> None:
        from accounts.auth import receivers  # noqa: F401 - connects the receivers
        from accounts.auth.revocation import terminated_user_revoke
        from accounts.termination import register_revoker

        register_revoker(terminated_user_revoke)
