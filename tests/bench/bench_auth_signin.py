"""Benchmark: the cost of authentication beyond its unavoidable parts.

* A password sign-in through allauth (axes, session, events, the second-
  factor stage check) as a ratio to the Argon2 verification alone; target
  at most 1.3x.
* An API request authenticated by API key as a ratio to the same request
  with a session; target at most 1.2x.

Run: DJANGO_ENV=test pytest -p no:cacheprovider -s tests/bench/bench_auth_signin.py
Medians over repeated runs, printed; the assertions are the targets.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import check_password
from django.test import Client

from accounts.auth import apikeys
from tests import factories
from tests.bench.report import finish, report
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

SIGN_INS = 25
REQUESTS = 300


def _interleaved_medians(
    first: Callable[[], object], second: Callable[[], object], repeat: int
) -> tuple[float, float]:
    """Median seconds of each, run alternately so load on the shared machine
    falls on both alike."""
    timings: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, bucket in ((first, timings[0]), (second, timings[1])):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return statistics.median(timings[0]), statistics.median(timings[1])


def test_sign_in_costs_at_most_1_3x_the_password_hash() -> None:
    user = factories.UserFactory()
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    encoded = user.password

    def hash_alone() -> None:
        assert check_password(DEFAULT_PASSWORD, encoded)

    def sign_in() -> None:
        response = Client().post(
            "/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD}
        )
        assert response.status_code == 302

    sign_in()  # warm caches and imports
    hash_only, full = _interleaved_medians(hash_alone, sign_in, SIGN_INS)
    ratio = full / hash_only
    print(
        f"\nsign-in: {full * 1000:.1f} ms, argon2 verify alone: {hash_only * 1000:.1f} ms,"
        f" ratio {ratio:.2f}x (target <= 1.3x)"
    )
    report(
        "sign-in (allauth form)",
        full * 1000,
        "ms",
        target="<= 1.3x argon2 verify",
        ok=ratio <= 1.3,
        ratio=ratio,
        baseline="argon2 verify alone",
    )
    finish()
    assert ratio <= 1.3


def test_api_key_request_costs_at_most_1_2x_a_session_request(settings) -> None:
    # The per-user throttle would answer 429 long before the run ends; both
    # paths still pay for its cache round trip.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "user_endpoint": "100000/min",
        },
    }
    user = factories.UserFactory()
    membership = factories.MembershipFactory(user=user)
    issued = apikeys.api_key_create(
        user=user,
        organization=membership.organization,
        name="bench",
        scopes=["controls.view"],
        created_by=user,
    )
    # The same request both ways: acting in the key's organization, so the
    # session pays for the membership and allowlist checks too.
    session_client = Client(HTTP_X_ORGANIZATION=membership.organization.slug)
    session_client.force_login(user)
    key_client = Client(HTTP_AUTHORIZATION=f"ApiKey {issued.raw}")

    def with_session() -> None:
        assert session_client.get("/api/me").status_code == 200

    def with_key() -> None:
        assert key_client.get("/api/me").status_code == 200

    for _ in range(20):  # warm both paths
        with_session()
        with_key()
    session_time, key_time = _interleaved_medians(with_session, with_key, REQUESTS)
    ratio = key_time / session_time
    print(
        f"\nAPI /api/me: API key {key_time * 1000:.2f} ms, session {session_time * 1000:.2f} ms,"
        f" ratio {ratio:.2f}x (target <= 1.2x)"
    )
    report(
        "API request with an API key",
        key_time * 1000,
        "ms",
        target="<= 1.2x session",
        ok=ratio <= 1.2,
        ratio=ratio,
        baseline="same request with a session",
    )
    finish()
    assert ratio <= 1.2
