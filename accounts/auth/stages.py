"""The second factor as a step of allauth's sign-in.

Every way allauth signs a user in (password, GitHub, sign-in after e-mail
confirmation) runs the login stages before Django's ``login``; until this
stage exits the session holds only allauth's stashed login, so the user is
anonymous everywhere else: pages redirect to sign-in and the API answers 401.
"""

from __future__ import annotations

from typing import Any

from allauth.account.stages import LoginStage
from allauth.core.internal.httpkit import headed_redirect_response

from accounts.auth import mfa

STAGE_KEY = "cx_second_factor"


class SecondFactorStage(LoginStage):
    key = STAGE_KEY
    urlname = "auth_second_factor"

    def handle(self) -> tuple[Any, bool]:
        user = self.login.user
        if user is None:
            return None, True
        enrolled = mfa.mfa_enabled_for(user)
        if not enrolled and not mfa.mfa_required_for(user):
            return None, True
        self.state["mode"] = "verify" if enrolled else "enrol"
        return headed_redirect_response("auth_second_factor"), True
