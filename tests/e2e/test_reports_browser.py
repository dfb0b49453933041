"""In a real browser: the reports pages hold under the strict CSP, and a PDF
pack is requested, built by a real Celery worker, and downloaded."""

from __future__ import annotations

import pytest
from django.test import override_settings

from compliance.models import ReportPack
from compliance.reports.services import report_pack_verify
from tests.compliance.reports_sample import SAMPLE_PROVIDER, reports_user, sample_runs_record
from tests.conftest import require_env
from tests.e2e.conftest import DOWNLOADS
from tests.factories import DEFAULT_PASSWORD
from tests.support.processes import celery_worker

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def sample_provider(transactional_db):
    sample_runs_record()
    with override_settings(REPORTS_DATA_PROVIDER=SAMPLE_PROVIDER):
        yield


def test_reports_overview_renders_charts_without_csp_violations(sign_in) -> None:
    user = reports_user("auditor")
    browser = sign_in(user.email, DEFAULT_PASSWORD)
    page = browser.page

    browser.goto("/reports/")
    page.wait_for_load_state("networkidle")

    assert page.locator("#figure-score").inner_text().endswith("%")
    images = page.locator("img.chart-image")
    assert images.count() == 3
    widths = page.eval_on_selector_all("img.chart-image", "els => els.map(e => e.naturalWidth)")
    assert all(width > 0 for width in widths), widths
    assert page.locator("table.chart-data").count() == 3
    browser.screenshot("reports-overview")
    assert browser.csp_violations() == []


def test_a_pdf_export_is_built_and_downloaded(sign_in) -> None:
    require_env("REDIS_URL")
    user = reports_user("auditor")
    browser = sign_in(user.email, DEFAULT_PASSWORD)
    page = browser.page

    status_polls: list[str] = []
    page.on("request", lambda r: status_polls.append(r.url) if r.url.endswith("/status") else None)

    browser.goto("/reports/packs/")
    page.select_option("select[name=kind]", "readiness")
    page.fill("input[name=period_start]", "2026-09-01")
    page.fill("input[name=period_end]", "2026-11-30")
    browser.screenshot("reports-packs")
    with page.expect_navigation():
        page.click("#pack-build")
    assert "/reports/packs/" in page.url

    # No worker runs yet: the pack waits in the queue, the link is hidden.
    link = page.locator("#pack-download")
    assert link.is_hidden()
    assert page.locator("#pack-status").inner_text() == "Queued"
    browser.screenshot("reports-pack-queued")

    # A real worker on the default queue picks it up; the page's static
    # script polls the status and reveals the link without a reload.
    with celery_worker(queue="celery", REPORTS_DATA_PROVIDER=SAMPLE_PROVIDER):
        link.wait_for(state="visible", timeout=120_000)
        assert page.locator("#pack-progress-bar").get_attribute("value") == "100"
        assert status_polls, "the page never polled the build status"
        browser.screenshot("reports-pack-built")
        with page.expect_download() as info:
            link.click()
        download = info.value

    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    target = DOWNLOADS / download.suggested_filename
    download.save_as(str(target))
    content = target.read_bytes()
    assert content.startswith(b"%PDF-")
    assert report_pack_verify(content=content).is_valid
    pack = ReportPack.objects.get()
    assert pack.requested_by == user and pack.status == ReportPack.Status.DONE
    assert download.suggested_filename == pack.filename
    assert browser.csp_violations() == []
