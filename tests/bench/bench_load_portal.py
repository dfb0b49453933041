"""Load test: 50 concurrent clients against gunicorn (uvicorn workers) on
127.0.0.1 with the test database, one phase per target: /healthz (the
baseline), the compliance dashboard, an API list and sign-in. Each phase is
bounded in time; p50/p95/p99 and the error rate of each go through
tests/bench/report.

Every client is a member of its own organization (the API list) and of the
operator organization (the dashboard needs controls.view there), so its
sign-in has two steps: the password, then the TOTP code of its device. The
sign-in phase measures the password step, which carries the argon2 hash.

BENCH_LOAD_CLIENTS and BENCH_LOAD_SECONDS shrink the run for a plumbing
check; the defaults (50 clients, 6 s per phase) are the issue's figures.

The clients are threads with keep-alive connections (http.client): no extra
dependency, and 50 threads are enough to keep two workers saturated. They
share the machine's two cores with the server, so the figures are a floor.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlencode

import pytest

from tests import factories
from tests.bench.report import finish, report
from tests.support.processes import BIN, ROOT, process_env, stop_process_group

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLIENTS = int(os.environ.get("BENCH_LOAD_CLIENTS", "50"))
PHASE_SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "6"))
PASSWORD = factories.DEFAULT_PASSWORD


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def portal():
    port = _free_port()
    (ROOT / "artifacts").mkdir(exist_ok=True)
    log_path = ROOT / "artifacts" / "bench-load-gunicorn.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "cloudexpress.asgi:application",
            "-c",
            "deploy/gunicorn.conf.py",
            # Loopback only, and two workers for the two cores.
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "2",
            "--access-logfile",
            "/dev/null",
        ],
        cwd=ROOT,
        # Every client comes from 127.0.0.1, so the per-address sign-in limit
        # and the per-user API rate would measure the limits, not the portal:
        # raised for this capacity test only (their own tests prove them).
        env=process_env(
            LOG_LEVEL="WARNING",
            RATE_LIMIT_SIGN_IN="100000/m/ip",
            RATE_LIMIT_API_USER="100000/min",
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            assert proc.poll() is None, log_path.read_text()[-2000:]
            time.sleep(0.2)
    yield port
    stop_process_group(proc)
    log.close()


class Client:
    """One keep-alive connection with its own cookies."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}
        self.last_status = 0

    def request(
        self,
        method: str,
        path: str,
        body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        self.last_status = 0
        all_headers = {"Host": "127.0.0.1", **(headers or {})}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        # A keep-alive connection the server closed while idle is reopened
        # once, as browsers do; any other failure counts as an error.
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=all_headers)
                response = self.conn.getresponse()
                text = response.read().decode(errors="replace")
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()
                if attempt == 2:
                    return 0, ""
            except (OSError, http.client.HTTPException):
                self.conn.close()
                return 0, ""
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        self.last_status = response.status
        return response.status, text

    def sign_in(self, email: str) -> int:
        self.cookies.clear()
        status, page = self.request("GET", "/accounts/login/")
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or match is None:
            return status or 599
        form = urlencode(
            {"login": email, "password": PASSWORD, "csrfmiddlewaretoken": match.group(1)}
        )
        status, _ = self.request(
            "POST",
            "/accounts/login/",
            body=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return status

    def second_factor(self, secret: str) -> int:
        """Answer the TOTP step that follows the password of a member of the
        operator organization."""
        import pyotp

        status, page = self.request("GET", "/accounts/2fa/")
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or match is None:
            return status or 599
        form = urlencode({"code": pyotp.TOTP(secret).now(), "csrfmiddlewaretoken": match.group(1)})
        status, _ = self.request(
            "POST",
            "/accounts/2fa/",
            body=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return status


def _member_of_operator(user: factories.User, operator: object) -> str:
    """Make the user a member of the operator with a verified address and a
    confirmed TOTP device; return the device's secret."""
    from allauth.account.models import EmailAddress
    from django.utils import timezone

    from accounts.auth import mfa
    from accounts.models import TOTPDevice

    factories.MembershipFactory(user=user, organization=operator)
    EmailAddress.objects.get_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    device = mfa.totp_device_start(user=user)
    TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True, confirmed_at=timezone.now())
    return str(device.secret)


def _phase(clients: list[Client], call: Callable[[Client], bool]) -> tuple[list[float], int]:
    """Every client calls in a loop until the phase ends; latencies in ms."""
    latencies: list[float] = []
    errors = 0
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    end = time.monotonic() + PHASE_SECONDS

    def loop(client: Client) -> None:
        nonlocal errors
        mine: list[float] = []
        failed = 0
        while time.monotonic() < end:
            start = time.perf_counter()
            ok = call(client)
            if not ok:
                statuses[client.last_status] += 1
            mine.append((time.perf_counter() - start) * 1000)
            failed += not ok
        with lock:
            latencies.extend(mine)
            errors += failed

    threads = [threading.Thread(target=loop, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PHASE_SECONDS + 60)
    if statuses:
        print(f"failed statuses: {dict(statuses)}", flush=True)
    return latencies, errors


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def test_portal_under_50_concurrent_clients(portal: int) -> None:
    from django.conf import settings

    operator = factories.OrganizationFactory(
        slug=settings.OPERATOR_ORGANIZATION_SLUG, is_operator=True
    )
    memberships = [factories.MembershipFactory() for _ in range(CLIENTS)]
    secrets = [_member_of_operator(m.user, operator) for m in memberships]
    clients = [Client(portal) for _ in range(CLIENTS)]
    for client, membership, secret in zip(clients, memberships, secrets, strict=True):
        assert client.sign_in(membership.user.email) == 302
        assert client.second_factor(secret) == 302
    emails = {id(c): m.user.email for c, m in zip(clients, memberships, strict=True)}
    slugs = {id(c): m.organization.slug for c, m in zip(clients, memberships, strict=True)}

    # Sign-in last: it starts each client's session again.
    phases: dict[str, Callable[[Client], bool]] = {
        "healthz": lambda c: c.request("GET", "/healthz")[0] == 200,
        "dashboard": lambda c: c.request("GET", "/dashboard/")[0] == 200,
        "api members": lambda c: c.request("GET", f"/api/orgs/{slugs[id(c)]}/members")[0] == 200,
        "sign-in": lambda c: c.sign_in(emails[id(c)]) == 302,
    }
    results = {name: _phase(clients, call) for name, call in phases.items()}

    base_p95 = _percentile(results["healthz"][0], 0.95)
    # The issue names no latency target for this test: fifty client threads
    # and the server share the same two cores, so the latencies measure the
    # saturated machine (sign-in is bound by argon2: about 100 ms of CPU per
    # hash, two cores, fifty callers). They are reported; the error rate is
    # the judged figure.
    for name, (latencies, errors) in results.items():
        assert latencies, f"{name}: no request finished"
        count = len(latencies)
        p50, p95, p99 = (_percentile(latencies, q) for q in (0.5, 0.95, 0.99))
        rate = errors / count
        ratio = None if name == "healthz" else p95 / base_p95
        baseline = "" if name == "healthz" else "healthz p95"
        report(f"load {name} p50 ({CLIENTS} clients)", p50, "ms", target="-", ok=True)
        report(
            f"load {name} p95 ({CLIENTS} clients)",
            p95,
            "ms",
            target="-",
            ok=True,
            ratio=ratio,
            baseline=baseline,
        )
        report(f"load {name} p99 ({CLIENTS} clients)", p99, "ms", target="-", ok=True)
        report(f"load {name} errors", rate * 100, "%", target="< 1 %", ok=rate < 0.01)
        report(f"load {name} throughput", count / PHASE_SECONDS, "req/s", target="-", ok=True)
    finish()
