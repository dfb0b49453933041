"""In a real browser at 1280 px: the navigation wraps rather than running
past the window, Sign out stays on screen, and a wide table (the evidence
requests with their SHA-256 hashes) scrolls inside its own box instead of
widening the page."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from compliance.models import Control, EvidenceRequest, EvidenceResponseFile
from compliance.runs import checks_run
from tests.e2e.conftest import BrowserPage
from tests.factories import DEFAULT_PASSWORD, operator_member

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WIDTH, HEIGHT = 1280, 800


def _answered_requests(asker: object, liaison: object, count: int) -> None:
    controls = list(Control.objects.filter(is_active=True).order_by("code")[:count])
    for n, control in enumerate(controls):
        request = EvidenceRequest.objects.create(
            control=control,
            requested_by=asker,
            question="Show the quarterly access review sign-off for every production system "
            "and the tickets that removed the leavers' access.",
            due_on=timezone.localdate() + timedelta(days=7),
            status=EvidenceRequest.Status.ANSWERED,
            liaison=liaison,
            answer_note="Attached: the signed review export and the ticket list.",
            answered_at=timezone.now(),
        )
        for part in range(2):
            EvidenceResponseFile.objects.create(
                request=request,
                file=f"evidence/responses/{n}-{part}.csv",
                file_name=f"access-review-export-q4-production-systems-{n}-{part}.csv",
                sha256=hashlib.sha256(f"{n}-{part}".encode()).hexdigest(),
                size=1024,
                uploaded_by=liaison,
            )


def _assert_fits(browser: BrowserPage, path: str, name: str) -> None:
    page = browser.page
    browser.goto(path)
    page.wait_for_load_state("networkidle")

    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    browser.screenshot(name)
    assert scroll_width <= WIDTH, (path, scroll_width)
    sign_out = page.locator(".session button", has_text="Sign out")
    box = sign_out.bounding_box()
    assert box is not None, path
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, (path, box)
    assert box["y"] >= 0 and box["y"] + box["height"] <= HEIGHT, (path, box)
    assert browser.csp_violations() == []


def test_pages_fit_a_1280_px_window_with_sign_out_on_screen(sign_in) -> None:
    checks_run()
    # An admin of the operator is shown every navigation entry: the widest
    # menu there is.
    admin = operator_member("admin")
    auditor = operator_member("auditor")
    _answered_requests(auditor, admin, 4)
    browser = sign_in(admin.email, DEFAULT_PASSWORD)
    browser.page.set_viewport_size({"width": WIDTH, "height": HEIGHT})

    _assert_fits(browser, "/dashboard/", "layout-1280-dashboard")
    _assert_fits(browser, "/evidence/requests/", "layout-1280-evidence-requests")

    # Every hash is on the page in full, readable inside the table's box.
    page = browser.page
    hashes = page.locator("#table-requests code")
    assert hashes.count() == 8
    for index in range(hashes.count()):
        box = hashes.nth(index).bounding_box()
        assert box is not None and box["x"] + box["width"] <= WIDTH, box
