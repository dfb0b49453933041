"""allauth adapters: the one client-IP function, and the second-factor stage."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.http import HttpRequest

from cloudexpress.clientip import client_ip

SECOND_FACTOR_STAGE = "accounts.auth.stages.SecondFactorStage"


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request: HttpRequest) -> str:
        return client_ip(request)

    def get_login_stages(self) -> list[str]:
        # After e-mail verification, so an unverified address never reaches
        # enrolment; allauth's own MFA app stays off (MFA_ENABLED is False).
        return [*super().get_login_stages(), SECOND_FACTOR_STAGE]


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_auto_signup_allowed(self, request: HttpRequest, sociallogin: Any) -> bool:
        from accounts.auth.github import github_auto_signup_allowed

        return github_auto_signup_allowed(sociallogin) and super().is_auto_signup_allowed(
            request, sociallogin
        )

    def pre_social_login(self, request: HttpRequest, sociallogin: Any) -> None:
        from accounts.auth.github import github_pre_login

        github_pre_login(request, sociallogin)
