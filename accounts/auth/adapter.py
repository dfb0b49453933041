"""allauth adapters: the one client-IP function, and the second-factor stage."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.http import HttpRequest, HttpResponse

from cloudexpress.clientip import client_ip

SECOND_FACTOR_STAGE = "accounts.auth.stages.SecondFactorStage"


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request: HttpRequest) -> str:
        return client_ip(request)

    def pre_login(self, request: HttpRequest, user: Any, **kwargs: Any) -> HttpResponse | None:
        """Refuse the sign-in (password, GitHub, after confirmation) from a
        country every organization of the user refuses, before any stage or
        session: the password was right, so it is no failure for axes."""
        from allauth.account.internal.stagekit import clear_login
        from django.shortcuts import render

        from accounts.auth.ipallow import SIGN_IN_REFUSED_MESSAGE, sign_in_country_refused

        country = sign_in_country_refused(user=user, ip=client_ip(request), channel="web")
        if country is not None:
            clear_login(request)
            return render(
                request,
                "accounts/auth/sign_in_refused.html",
                {"message": SIGN_IN_REFUSED_MESSAGE.format(country=country)},
                status=403,
            )
        return super().pre_login(request, user, **kwargs)

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
