"""In a real browser against uvicorn serving the ASGI app: the dashboard as a
compliance officer and as an auditor, a figure followed to its list, a new
run's score and detection's alerts arriving over the WebSocket without a
reload, and a PDF export."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from accounts.services import roles_builtin_ensure
from audit.detection.engine import detection_run
from audit.models import Alert, SecurityEvent
from audit.services import security_event_record
from compliance.models import Control
from compliance.runs import checks_run
from tests.conftest import ARTIFACTS, require_env
from tests.e2e.conftest import CSP_LISTENER, DOWNLOADS, BrowserPage
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.support.processes import BIN, ROOT, process_env, stop_process_group

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def asgi_server() -> Iterator[str]:
    """uvicorn on the ASGI app, on the test database: pytest-django's live
    server speaks WSGI only, so it cannot carry the WebSocket."""
    require_env("REDIS_URL")
    port = _free_port()
    log = open(ARTIFACTS / "uvicorn-dashboard.log", "w")
    proc = subprocess.Popen(
        [
            str(BIN / "uvicorn"),
            "cloudexpress.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--ws",
            "wsproto",
        ],
        cwd=ROOT,
        env=process_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=2)
                break
            except OSError:
                assert proc.poll() is None, "uvicorn exited"
                assert time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.2)  # polling a starting process, not waiting for time
        yield url
    finally:
        stop_process_group(proc)
        log.close()


def _off_the_event_loop(function: Any) -> Any:
    # Playwright's sync API runs an event loop in this thread, where
    # async_to_sync (the broadcast's) refuses to run; a worker never has one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function).result()


def _failed_sign_in_burst() -> None:
    victim = UserFactory()
    for _ in range(10):
        security_event_record(
            event_type=SecurityEvent.Type.SIGN_IN_FAILED,
            ip="198.51.100.23",
            target_user=victim,
            detail={"username": victim.email},
        )


def _user(kind: str) -> Any:
    operator = OrganizationFactory(slug=settings.OPERATOR_ORGANIZATION_SLUG, is_operator=True)
    user = UserFactory()
    MembershipFactory(user=user, organization=operator, role=roles_builtin_ensure()[kind])
    return user


def _signed_in_page(browser_context: Any, base_url: str, user: Any) -> BrowserPage:
    # A session made server-side, so a sign-in form that asks for a second
    # factor does not stand between the test and the dashboard.
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    browser_context.add_cookies(
        [{"name": name, "value": client.cookies[name].value, "url": base_url}]
    )
    page = browser_context.new_page()
    page.add_init_script(CSP_LISTENER)
    wrapped = BrowserPage(page=page, base_url=base_url)
    page.on("console", lambda message: wrapped.console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: wrapped.console.append(f"pageerror: {error}"))
    return wrapped


def test_officer_follows_a_figure_watches_a_run_arrive_and_downloads_the_pdf(
    browser_context: Any, asgi_server: str
) -> None:
    first = _off_the_event_loop(checks_run)
    # A compliance officer: the admin role holds reports.export for the PDF.
    browser = _signed_in_page(browser_context, asgi_server, _user("admin"))
    page = browser.page

    browser.goto("/dashboard/")
    page.wait_for_selector("#live-status[data-state=open]")
    assert page.locator("#figure-run").inner_text() == f"#{first.pk}"
    browser.screenshot("dashboard-officer")

    # A new run, finished on the server, shows without a reload.
    page.evaluate("window.__sameDocument = true")
    second = _off_the_event_loop(checks_run)
    expect(page.locator("#figure-run")).to_have_text(f"#{second.pk}", timeout=60_000)
    assert page.evaluate("window.__sameDocument") is True
    assert page.locator("#figure-score").inner_text() == f"{second.score * 100:.1f}%"
    browser.screenshot("dashboard-live-update")

    # A burst of failed sign-ins, through the real detection job: the alerts
    # it raises arrive in the alerts panel, still without a reload.
    assert page.locator("#figure-alerts").inner_text() == "0"
    _off_the_event_loop(_failed_sign_in_burst)
    counts = _off_the_event_loop(detection_run)
    raised = list(Alert.objects.order_by("pk"))
    assert counts["alerts_created"] == len(raised) > 0
    expect(page.locator("#figure-alerts")).to_have_text(str(len(raised)), timeout=60_000)
    for alert in raised:
        expect(page.locator("#panel-alerts li.alert", has_text=alert.title)).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True
    browser.screenshot("dashboard-alert-arrived")

    # The failing-controls figure leads to exactly that many controls.
    failing = int(page.locator("#figure-failing").inner_text())
    assert failing > 0
    with page.expect_navigation():
        page.click("#figure-failing")
    assert page.locator("tr.control-row").count() == failing
    browser.screenshot("dashboard-failing-controls")
    assert browser.csp_violations() == []

    # The PDF export downloads a real PDF.
    browser.goto("/dashboard/")
    with page.expect_download() as download_info:
        page.click("#export-pdf")
    download = download_info.value
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    target = DOWNLOADS / "dashboard-soc2-report.pdf"
    download.save_as(str(target))
    assert target.read_bytes().startswith(b"%PDF-")
    assert browser.csp_violations() == []


def test_auditor_opens_the_dashboard_its_gaps_and_the_evidence_room(
    browser_context: Any, asgi_server: str
) -> None:
    _off_the_event_loop(checks_run)
    auditor = _user("auditor")
    browser = _signed_in_page(browser_context, asgi_server, auditor)
    page = browser.page

    browser.goto("/dashboard/")
    page.wait_for_selector("#live-status[data-state=open]")
    items = int(page.locator("#figure-action-items").inner_text())
    browser.screenshot("dashboard-auditor")
    with page.expect_navigation():
        page.click("#figure-action-items")
    assert page.locator("tr.item-row").count() == items > 0
    gaps_subject = "page:" + urlsplit(page.url).path
    if urlsplit(page.url).query:
        gaps_subject += "?" + "&".join(sorted(parse_qs(urlsplit(page.url).query)))
    browser.screenshot("dashboard-gaps")

    # The evidence room: every control for the period, then one control's
    # results with their hashes. Each of the four pages the auditor opened
    # is a security event, once.
    browser.goto("/evidence/")
    assert (
        page.locator("tr.evidence-control").count()
        == Control.objects.filter(is_active=True).count()
    )
    browser.screenshot("evidence-room")
    with page.expect_navigation():
        page.click("tr.evidence-control >> nth=0 >> a")
    assert page.locator("tr.evidence-result").count() > 0
    browser.screenshot("evidence-control")
    subjects = SecurityEvent.objects.filter(
        event_type=SecurityEvent.Type.EVIDENCE_VIEWED, actor_id=auditor.pk
    ).values_list("detail__subject", flat=True)
    code = page.url.split("/evidence/controls/", 1)[1].split("/", 1)[0]
    assert sorted(subjects) == sorted(
        ["page:/dashboard/", gaps_subject, "controls", f"control:{code}"]
    )
    assert browser.csp_violations() == []
