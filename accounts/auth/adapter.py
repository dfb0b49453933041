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

    def send_account_already_exists_mail(self, email: str) -> None:
        """Sign-up with a taken address: allauth sends this mail instead of
        creating the account (enumeration prevention), which skips the one
        expensive step of a real sign-up, hashing the password, and so
        answered about ten times faster. Hash a throw-away secret with the
        same hasher and parameters, so both answers cost the same; the bench
        tests/bench/bench_auth_enumeration.py measures it."""
        from django.contrib.auth.hashers import make_password
        from django.utils.crypto import get_random_string

        make_password(get_random_string(32))
        super().send_account_already_exists_mail(email)

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
