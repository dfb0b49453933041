"""Browser tests: Playwright for Python driving Debian's chromium against a
live server on 127.0.0.1.

Playwright never downloads a browser here: it launches /usr/bin/chromium
with a fresh profile. Tests that need it are marked ``browser`` and skip
with a reason when the binary is missing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ARTIFACTS

# Playwright's sync API runs an event loop in this thread; Django would then
# refuse the ORM calls that fixtures make between browser steps.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ARTIFACTS / "screenshots"
DOWNLOADS = ARTIFACTS / "downloads"

# Collects violations from inside the page; init scripts run before the
# page's own scripts and are not subject to its CSP.
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed (apt-get install chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@dataclass
class BrowserPage:
    """A page plus what its console said, for assertions."""

    page: Any
    base_url: str
    console: list[str] = field(default_factory=list)

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base_url + path)

    def csp_violations(self) -> list[str]:
        from_page = self.page.evaluate("window.__cspViolations || []")
        from_console = [
            line
            for line in self.console
            if "Content Security Policy" in line or "Content-Security-Policy" in line
        ]
        return [*from_page, *from_console]

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def browser_context() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="cx-chromium-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            accept_downloads=True,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser_page(browser_context: Any, live_server: Any) -> BrowserPage:
    page = browser_context.new_page()
    page.add_init_script(CSP_LISTENER)
    wrapped = BrowserPage(page=page, base_url=live_server.url)
    page.on("console", lambda message: wrapped.console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: wrapped.console.append(f"pageerror: {error}"))
    return wrapped


@pytest.fixture
def sign_in(browser_page: BrowserPage) -> Callable[[str, str], BrowserPage]:
    """Sign in through the real form, whatever the form names its fields.

    The form is Django's today (``username``) and allauth's later (``login``),
    so the identifier input is found by any of the names they use.
    """

    def do(email: str, password: str) -> BrowserPage:
        import pyotp
        from allauth.account.models import EmailAddress

        from accounts.auth import mfa
        from accounts.models import User
        from tests.accounts.auth_support import enrolled_device

        # A user who must have a second factor gets an enrolled device, and
        # the code is typed into the second step as a person would.
        user = User.objects.get(email=email)
        # Sign-in asks for a verified address first; these users own theirs.
        EmailAddress.objects.update_or_create(
            user=user, email=user.email, defaults={"verified": True, "primary": True}
        )
        totp = None
        if mfa.mfa_required_for(user):
            device = mfa.confirmed_device(user)
            totp = pyotp.TOTP(device.secret) if device else enrolled_device(user)[1]
        page = browser_page.page
        browser_page.goto("/accounts/login/")
        page.locator("input[name=login], input[name=username], input[name=email]").first.fill(
            email
        )
        page.locator("input[name=password]").first.fill(password)
        with page.expect_navigation():
            page.locator("form button[type=submit], form input[type=submit]").first.click()
        assert "/accounts/login/" not in page.url, "sign-in failed"
        if totp is not None:
            assert "/accounts/2fa/" in page.url, page.url
            page.locator("input[name=code]").first.fill(totp.now())
            with page.expect_navigation():
                page.locator("form button[type=submit], form input[type=submit]").first.click()
            assert "/accounts/2fa/" not in page.url, "second factor refused"
        return browser_page

    return do
