"""Shared fixtures. Tests run on the real PostgreSQL and Redis that
scripts/test.sh starts (or that DATABASE_URL and REDIS_URL name)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests import factories

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
ARTIFACTS = ROOT / "artifacts"
ARTIFACTS.mkdir(exist_ok=True)


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    cache.clear()
    yield


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db: None) -> factories.User:
    return factories.UserFactory()


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared data folder is absent (looked in {SHARED_DATA.name}/)")
    return SHARED_DATA


def require_env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        pytest.skip(f"{name} is not set: run the tests through `make test`")
    return value


@pytest.fixture(autouse=True)
def _force_login_includes_the_second_factor(request: pytest.FixtureRequest) -> Iterator[None]:
    """Let ``force_login`` stand for a person who passed both sign-in steps.

    Users whose role requires MFA are sent to enrolment until their session
    carries a verified device. Tests of other areas sign people in with
    ``force_login`` and mean a complete sign-in, so for those users a
    confirmed TOTP device is created and the session marked verified, as
    django-otp does after a correct code. The authentication tests
    (``test_auth_*``) keep Django's plain ``force_login``: they prove the
    half-signed-in states themselves.
    """
    from django.test import Client

    if (
        request.node.path.name.startswith("test_auth_")
        or "db" not in request.fixturenames
        and (
            "transactional_db" not in request.fixturenames
            and not request.node.get_closest_marker("django_db")
        )
    ):
        yield
        return
    original = Client.force_login

    def force_login(self: Client, user: object, backend: str | None = None) -> None:
        original(self, user, backend)
        from django.utils import timezone
        from django_otp import DEVICE_ID_SESSION_KEY

        from accounts.auth import mfa
        from accounts.models import TOTPDevice

        if not mfa.mfa_required_for(user):
            return
        device = mfa.confirmed_device(user)
        if device is None:
            device = mfa.totp_device_start(user=user)
            TOTPDevice.objects.filter(pk=device.pk).update(
                confirmed=True, confirmed_at=timezone.now()
            )
            device.refresh_from_db()
        session = self.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()

    Client.force_login = force_login  # type: ignore[method-assign]
    try:
        yield
    finally:
        Client.force_login = original  # type: ignore[method-assign]
