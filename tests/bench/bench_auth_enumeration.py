"""Benchmark: sign-up, password reset and e-mail change take the same time
whether or not an account has the address, so timing enumerates nobody.

Each flow runs alternately for a taken and a free address (load on the shared
machine falls on both alike); the figure is the ratio of the medians,
taken/free, with the CPU time of each beside the wall time. Target: within
1.2x either way.

Run: DJANGO_ENV=test pytest -p no:cacheprovider -s tests/bench/bench_auth_enumeration.py
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable

import pytest
from django.core import mail
from django.test import Client

from tests.accounts.auth_support import sign_in_password, verified_user
from tests.bench.report import report

pytestmark = pytest.mark.django_db

ROUNDS = 15
PASSWORD = "Sign-Up-Pass-77!"
_serial = itertools.count()


def _fresh() -> str:
    return f"bench-free-{next(_serial)}@example.test"


def _medians(
    taken: Callable[[], object], free: Callable[[], object], rounds: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    """(wall, cpu) medians of each, run alternately."""
    samples: dict[str, tuple[list[float], list[float]]] = {"taken": ([], []), "free": ([], [])}
    for _ in range(rounds):
        for name, fn in (("taken", taken), ("free", free)):
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            samples[name][0].append(time.perf_counter() - wall)
            samples[name][1].append(time.process_time() - cpu)
            mail.outbox.clear()
    return (
        (statistics.median(samples["taken"][0]), statistics.median(samples["taken"][1])),
        (statistics.median(samples["free"][0]), statistics.median(samples["free"][1])),
    )


def _report(flow: str, taken: tuple[float, float], free: tuple[float, float]) -> float:
    ratio = taken[0] / free[0]
    cpu_ratio = taken[1] / free[1] if free[1] else 1.0
    print(
        f"\n{flow}: taken {taken[0] * 1000:.1f} ms (cpu {taken[1] * 1000:.1f}),"
        f" free {free[0] * 1000:.1f} ms (cpu {free[1] * 1000:.1f}),"
        f" ratio {ratio:.2f}x wall, {cpu_ratio:.2f}x cpu (target 1/1.2 .. 1.2)"
    )
    ok = 1 / 1.2 <= ratio <= 1.2
    report(
        f"auth_enumeration_{flow}_ratio",
        ratio,
        "x",
        target="0.83..1.2 (taken/free)",
        ok=ok,
        ratio=ratio,
        baseline=f"free {free[0] * 1000:.1f} ms; cpu ratio {cpu_ratio:.2f}",
    )
    return ratio


@pytest.fixture(autouse=True)
def _no_page_limits(settings) -> None:
    # The per-address page limits would answer 429 long before the run ends.
    settings.ACCOUNT_RATE_LIMITS = False


def test_sign_up_takes_the_same_time_for_a_taken_and_a_free_address() -> None:
    taken_users = [verified_user() for _ in range(ROUNDS + 2)]
    taken_iter = iter(taken_users)

    def sign_up(email: str) -> None:
        response = Client().post(
            "/accounts/signup/", {"email": email, "password1": PASSWORD, "password2": PASSWORD}
        )
        assert response.status_code == 302

    sign_up(next(taken_iter).email)  # warm imports and caches
    sign_up(_fresh())
    taken, free = _medians(
        lambda: sign_up(next(taken_iter).email), lambda: sign_up(_fresh()), ROUNDS
    )
    assert 1 / 1.2 <= _report("sign_up", taken, free) <= 1.2


def test_password_reset_takes_the_same_time_for_a_known_and_an_unknown_address() -> None:
    known = verified_user()

    def reset(email: str) -> None:
        assert Client().post("/accounts/password/reset/", {"email": email}).status_code == 302

    reset(known.email)
    reset(_fresh())
    taken, free = _medians(lambda: reset(known.email), lambda: reset(_fresh()), ROUNDS)
    assert 1 / 1.2 <= _report("password_reset", taken, free) <= 1.2


def test_email_change_takes_the_same_time_for_a_taken_and_a_free_address() -> None:
    others = iter([verified_user() for _ in range(ROUNDS + 2)])
    user = verified_user()
    client = Client()
    assert sign_in_password(client, user.email).status_code == 302

    def change(email: str) -> None:
        response = client.post("/accounts/email/", {"action_add": "", "email": email})
        assert response.status_code == 302

    change(next(others).email)
    change(_fresh())
    taken, free = _medians(lambda: change(next(others).email), lambda: change(_fresh()), ROUNDS)
    assert 1 / 1.2 <= _report("email_change", taken, free) <= 1.2
