"""GitHub OAuth through a fake GitHub on 127.0.0.1, the whole redirect flow."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import time_machine
from allauth.socialaccount.models import SocialAccount, SocialToken
from allauth.socialaccount.providers.github.views import GitHubOAuth2Adapter
from django.test import Client, override_settings
from django.utils import timezone

from accounts.models import User
from tests.accounts.auth_support import enrolled_device, signed_in_user_id, verified_user
from tests.factories import DEFAULT_PASSWORD
from tests.support.fake_github import CLIENT_ID, CLIENT_SECRET, FakeGitHub, GitHubUser

pytestmark = pytest.mark.django_db

PROVIDERS = {
    "github": {
        "SCOPE": ["read:user", "user:email"],
        "APPS": [{"client_id": CLIENT_ID, "secret": CLIENT_SECRET}],
    }
}


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    fake = FakeGitHub().start()
    # The provider computes its URLs from GITHUB_URL at import; point them
    # at the fake the same way (GitHub Enterprise layout).
    monkeypatch.setattr(GitHubOAuth2Adapter, "authorize_url", f"{fake.url}/login/oauth/authorize")
    monkeypatch.setattr(
        GitHubOAuth2Adapter, "access_token_url", f"{fake.url}/login/oauth/access_token"
    )
    monkeypatch.setattr(GitHubOAuth2Adapter, "profile_url", f"{fake.url}/api/v3/user")
    monkeypatch.setattr(GitHubOAuth2Adapter, "emails_url", f"{fake.url}/api/v3/user/emails")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with override_settings(SOCIALACCOUNT_PROVIDERS=PROVIDERS):
        yield fake
    fake.stop()


def _flow(client: Client, fake: FakeGitHub, process: str = "login", tamper_state: bool = False):
    start = client.post(f"/accounts/github/login/?process={process}")
    assert start.status_code == 302, start.content
    authorize = start["Location"]
    assert authorize.startswith(fake.url + "/login/oauth/authorize")
    back = requests.get(authorize, allow_redirects=False, timeout=5)
    assert back.status_code == 302
    callback = urlparse(back.headers["Location"])
    query = parse_qs(callback.query)
    if tamper_state:
        query["state"] = ["forged-state"]
    return client.get(callback.path, {k: v[0] for k, v in query.items()})


def _emails(address: str, verified: bool = True, primary: bool = True) -> list[dict]:
    return [{"email": address, "verified": verified, "primary": primary, "visibility": None}]


def test_new_github_user_with_a_verified_address_signs_up_and_in(github: FakeGitHub) -> None:
    github.user = GitHubUser(4242, "octo", None, _emails("octo@example.test"))
    client = Client()
    done = _flow(client, github)
    assert done.status_code == 302, done.content
    user = User.objects.get(email="octo@example.test")
    assert SocialAccount.objects.get(user=user).uid == "4242"
    assert signed_in_user_id(client) == user.pk
    assert "GET /api/v3/user/emails" in github.requests
    # The access token GitHub issued served the sign-in only: nothing of the
    # portal calls GitHub later, so it is not kept (a stored third-party
    # token is one more secret to encrypt, rotate and leak).
    assert not SocialToken.objects.exists()

    # Keyed on the GitHub id: a changed address still reaches the same account.
    client.logout()
    github.user = GitHubUser(4242, "octo", None, _emails("octo-new@example.test"))
    again = Client()
    _flow(again, github)
    assert signed_in_user_id(again) == user.pk


def test_forged_state_is_refused(github: FakeGitHub) -> None:
    github.user = GitHubUser(4243, "octo2", None, _emails("octo2@example.test"))
    client = Client()
    refused = _flow(client, github, tamper_state=True)
    assert signed_in_user_id(client) is None
    assert not User.objects.filter(email="octo2@example.test").exists()
    assert refused.status_code == 401
    # The code was never exchanged: the state check stopped the flow first.
    assert "POST /login/oauth/access_token" not in github.requests


def test_unverified_address_never_signs_into_an_existing_account(github: FakeGitHub) -> None:
    existing = verified_user(email="victim@example.test")
    github.user = GitHubUser(5000, "mallory", None, _emails(existing.email, verified=False))
    client = Client()
    _flow(client, github)
    assert signed_in_user_id(client) is None
    assert not SocialAccount.objects.filter(user=existing).exists()


def test_verified_address_of_an_existing_account_does_not_connect_or_sign_in(
    github: FakeGitHub,
) -> None:
    existing = verified_user(email="owner@example.test")
    github.user = GitHubUser(5001, "look-alike", existing.email, _emails(existing.email))
    client = Client()
    _flow(client, github)
    assert signed_in_user_id(client) is None
    assert not SocialAccount.objects.filter(uid="5001").exists()


def test_linking_needs_the_password_and_second_factor(github: FakeGitHub) -> None:
    user = verified_user()
    _, totp = enrolled_device(user)
    github.user = GitHubUser(6000, "mine", None, _emails("other-address@example.test"))
    client = Client()
    client.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})
    client.post("/accounts/2fa/", {"code": totp.now()})
    assert signed_in_user_id(client) == user.pk

    # Without the confirmation the connect flow is refused.
    _flow(client, github, process="connect")
    assert not SocialAccount.objects.filter(user=user).exists()

    wrong = client.post("/accounts/github/link/", {"password": "Nope-Nope-1!", "code": totp.now()})
    assert b"not correct" in wrong.content
    # The sign-in spent this time step's code: use the next step's.
    with time_machine.travel(timezone.now() + timedelta(seconds=31), tick=False):
        confirmed = client.post(
            "/accounts/github/link/", {"password": DEFAULT_PASSWORD, "code": totp.now()}
        )
        assert b"Continue to GitHub" in confirmed.content
        _flow(client, github, process="connect")
    assert SocialAccount.objects.get(user=user).uid == "6000"
