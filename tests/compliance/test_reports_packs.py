"""Pack pages, the build service and the Celery task."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from compliance.models import ReportPack
from compliance.reports import services, signing
from compliance.reports.tasks import report_pack_build_task
from tests.compliance.reports_sample import (
    PERIOD_END,
    PERIOD_START,
    SAMPLE_PROVIDER,
    reports_user,
    sample_runs_record,
)
from tests.conftest import require_env
from tests.support.processes import celery_worker


@pytest.fixture
def sample_provider(db):
    sample_runs_record()
    with override_settings(REPORTS_DATA_PROVIDER=SAMPLE_PROVIDER):
        yield


PACK_API = "/api/compliance/reports/pack"


def _queued(kind: str = ReportPack.Kind.GAP_ANALYSIS) -> ReportPack:
    return ReportPack.objects.create(kind=kind, period_start=PERIOD_START, period_end=PERIOD_END)


@pytest.mark.django_db
def test_build_stores_a_signed_pack_once_even_when_run_twice(sample_provider) -> None:
    pack = _queued()

    built = services.report_pack_build(pack_pk=pack.pk)
    again = services.report_pack_build(pack_pk=pack.pk)

    assert built is not None and again is None
    pack.refresh_from_db()
    assert (pack.status, pack.progress, pack.progress_step) == ("done", 100, "Signed and stored")
    content = pack.file.read()
    assert signing.content_sha256(content) == pack.sha256
    assert signing.pack_signature_valid(
        pack_id=str(pack.public_id), sha256=pack.sha256, signature=pack.signature
    )
    assert pack.page_count and pack.page_count >= 5
    assert services.report_pack_verify(content=content).is_valid


@pytest.mark.django_db
def test_build_records_its_progress_on_the_row(sample_provider, monkeypatch) -> None:
    pack = _queued()
    seen: list[tuple[int, str]] = []
    original = services._progress_save

    def spy(pack_pk: int, percent: int, step: str) -> None:
        original(pack_pk, percent, step)
        row = ReportPack.objects.get(pk=pack_pk)
        seen.append((row.progress, row.progress_step))

    monkeypatch.setattr(services, "_progress_save", spy)
    services.report_pack_build(pack_pk=pack.pk)

    percents = [percent for percent, _ in seen]
    assert percents == sorted(percents) and len(percents) >= 6
    steps = [step for _, step in seen]
    assert "Laying out pages" in steps
    # Layout reports page by page, from WeasyPrint's progress records.
    pages = [int(step.rsplit(" ", 1)[1]) for step in steps if step.startswith("Laying out page ")]
    assert len(pages) >= 3 and pages == sorted(pages)


@pytest.mark.django_db
def test_a_failed_build_is_marked_failed_with_its_error() -> None:
    pack = _queued()  # the default provider has no engine results yet
    with pytest.raises(Exception, match="No compliance run"):
        services.report_pack_build(pack_pk=pack.pk)
    pack.refresh_from_db()
    assert pack.status == ReportPack.Status.FAILED
    assert "ReportDataUnavailable" in pack.error
    assert not pack.file


@pytest.mark.django_db
def test_requesting_a_pack_queues_the_build_after_commit(
    sample_provider, client, django_capture_on_commit_callbacks
) -> None:
    client.force_login(reports_user("admin"))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            "/reports/packs/",
            {"kind": "remediation", "period_start": "2026-09-01", "period_end": "2026-11-30"},
        )
    pack = ReportPack.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/reports/packs/{pack.public_id}/"
    assert len(callbacks) == 1
    assert pack.status == ReportPack.Status.QUEUED

    page = client.get(response["Location"]).content.decode()
    assert '<script src="/static/js/pack-progress.js" defer></script>' in page
    assert "hidden>Download the PDF" in page

    services.report_pack_build(pack_pk=pack.pk)
    status = client.get(f"/reports/packs/{pack.public_id}/status").json()
    assert status["progress"] == 100 and status["finished"] is True
    download = client.get(status["download_url"])
    assert download["Content-Type"] == "application/pdf"
    assert b"".join(download.streaming_content).startswith(b"%PDF-")


@pytest.mark.django_db
def test_every_report_view_and_download_by_an_auditor_is_audited(sample_provider, client) -> None:
    from audit.models import SecurityEvent

    auditor = reports_user("auditor")
    client.force_login(auditor)
    pack = _queued()
    services.report_pack_build(pack_pk=pack.pk)

    for path in (
        "/reports/",
        "/reports/packs/",
        f"/reports/packs/{pack.public_id}/",
        f"/reports/packs/{pack.public_id}/download",
        "/reports/export/evidence.csv",
        f"{PACK_API}?kind=gap_analysis",
    ):
        assert client.get(path).status_code == 200, path
    # Polling a build's progress shows no report content.
    assert client.get(f"/reports/packs/{pack.public_id}/status").status_code == 200

    events = SecurityEvent.objects.filter(
        actor_id=auditor.pk,
        event_type__in=(
            SecurityEvent.Type.EVIDENCE_VIEWED,
            SecurityEvent.Type.EVIDENCE_DOWNLOADED,
        ),
    ).order_by("id")
    assert [(e.event_type, e.detail["subject"]) for e in events] == [
        (SecurityEvent.Type.EVIDENCE_VIEWED, "reports:overview"),
        (SecurityEvent.Type.EVIDENCE_VIEWED, "reports:packs"),
        (SecurityEvent.Type.EVIDENCE_VIEWED, f"reports:pack:{pack.public_id}"),
        (SecurityEvent.Type.EVIDENCE_DOWNLOADED, f"reports:pack:{pack.public_id}"),
        (SecurityEvent.Type.EVIDENCE_DOWNLOADED, "reports:export:evidence.csv"),
        (SecurityEvent.Type.EVIDENCE_VIEWED, "reports:api:gap_analysis"),
    ]


@pytest.mark.django_db
def test_api_queues_a_large_pack_for_the_task_and_answers_202(
    sample_provider, client, django_capture_on_commit_callbacks
) -> None:
    client.force_login(reports_user("auditor"))
    # A small pack is answered at once, as the PDF itself...
    small = client.get(f"{PACK_API}?format=pdf&kind=remediation")
    assert small.status_code == 200 and small["Content-Type"] == "application/pdf"

    # ...one longer than the limit is queued for the Celery task.
    with (
        override_settings(REPORTS_SYNC_MAX_PAGES=3),
        django_capture_on_commit_callbacks(execute=False) as callbacks,
    ):
        response = client.get(f"{PACK_API}?format=pdf&kind=readiness")
    assert response.status_code == 202
    assert response["Content-Type"] == "application/json"
    body = response.json()
    pack = ReportPack.objects.get(public_id=body["pack"])
    assert (pack.kind, pack.status) == ("readiness", ReportPack.Status.QUEUED)
    assert response["Location"] == f"/reports/packs/{pack.public_id}/status"
    assert body["page_url"].endswith(f"/reports/packs/{pack.public_id}/")
    # One build queued; the auditor's read of the endpoint is recorded too.
    queued = [c for c in callbacks if "report_pack_request" in c.__qualname__]
    assert len(queued) == 1

    # The page shows its progress; once built, the status offers the file.
    page = client.get(f"/reports/packs/{pack.public_id}/").content.decode()
    assert '<progress id="pack-progress-bar" max="100" value="0">' in page
    assert client.get(response["Location"]).json()["finished"] is False
    services.report_pack_build(pack_pk=pack.pk)
    status = client.get(response["Location"]).json()
    assert status["finished"] is True and status["progress"] == 100
    download = client.get(status["download_url"])
    assert b"".join(download.streaming_content).startswith(b"%PDF-")


@pytest.mark.django_db
def test_a_period_that_ends_before_it_starts_is_refused(client) -> None:
    client.force_login(reports_user("auditor"))
    response = client.post(
        "/reports/packs/",
        {"kind": "security", "period_start": "2026-11-30", "period_end": "2026-09-01"},
    )
    assert response.status_code == 200
    assert "must end on or after" in response.content.decode()
    assert not ReportPack.objects.exists()


@pytest.mark.django_db
def test_pack_list_runs_the_same_queries_for_one_and_many_packs(client) -> None:
    user = reports_user("auditor")
    client.force_login(user)
    ReportPack.objects.create(
        kind="security", period_start=PERIOD_START, period_end=PERIOD_END, requested_by=user
    )
    client.get("/reports/packs/")  # warm the session and permission rows
    with CaptureQueriesContext(connection) as one:
        assert client.get("/reports/packs/").status_code == 200

    for _ in range(20):
        ReportPack.objects.create(
            kind="readiness",
            period_start=PERIOD_START,
            period_end=PERIOD_END,
            requested_by=reports_user("admin"),
        )
    with CaptureQueriesContext(connection) as many:
        response = client.get("/reports/packs/")
    assert response.content.decode().count("/reports/packs/") >= 21
    assert len(many) == len(one)


@pytest.mark.django_db
def test_reports_pages_refuse_members_and_send_strangers_to_sign_in(client) -> None:
    assert client.get("/reports/packs/").status_code == 302
    client.force_login(reports_user("auditor"))
    assert client.get("/reports/packs/").status_code == 200
    client.force_login(reports_user("member"))
    assert client.get("/reports/packs/").status_code == 403


@pytest.mark.django_db
def test_report_access_is_the_portal_authorization_expiry_and_termination_included(
    client,
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import Membership
    from audit.models import SecurityEvent

    auditor = reports_user("auditor")
    client.force_login(auditor)
    # The same auditor and session work first...
    assert client.get("/reports/packs/").status_code == 200
    assert client.get(PACK_API).status_code != 403

    # ...and not once the time-boxed membership has run out: on the very
    # next request, page and API alike, and the refusal is recorded.
    Membership.objects.filter(user=auditor).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert client.get("/reports/packs/").status_code == 403
    assert client.get(PACK_API).status_code == 403
    assert SecurityEvent.objects.filter(
        event_type="access.permission_denied", actor_id=auditor.pk
    ).exists()

    # A terminated officer is signed out and refused, whatever the role says.
    officer = reports_user("owner")
    client.force_login(officer)
    assert client.get("/reports/packs/").status_code == 200
    type(officer).objects.filter(pk=officer.pk).update(terminated_at=timezone.now())
    assert client.get("/reports/packs/")["Location"].startswith("/accounts/login/")
    assert client.get(PACK_API).status_code in (401, 403)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_builds_the_pack() -> None:
    require_env("REDIS_URL")
    pack = _queued(ReportPack.Kind.SECURITY)
    with celery_worker(REPORTS_DATA_PROVIDER=SAMPLE_PROVIDER) as queue:
        result = report_pack_build_task.apply_async(args=[pack.pk], queue=queue)
        assert result.get(timeout=120) == str(pack.public_id)
    pack.refresh_from_db()
    assert pack.status == ReportPack.Status.DONE
    assert services.report_pack_verify(content=pack.file.read()).is_valid
