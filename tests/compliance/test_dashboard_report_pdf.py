"""The SOC 2 report API as PDF: the engine's report provider, and the PDF
agreeing with the JSON report on the score and every control's status."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pypdf import PdfReader
from rest_framework.test import APIClient

from accounts.services import roles_builtin_ensure
from compliance.models import Control, ReportPack
from compliance.reports.data import ControlStatus, engine_report_data
from compliance.reports.render import pack_html
from compliance.reports.services import report_pack_verify
from compliance.runs import checks_run
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/compliance/soc2/report"
# The engine's control statuses as the pack writes them.
LABELS = {
    "pass": ControlStatus.LABELS[ControlStatus.PASSING],
    "fail": ControlStatus.LABELS[ControlStatus.FAILING],
    "not_applicable": ControlStatus.LABELS[ControlStatus.NOT_APPLICABLE],
}


@pytest.fixture
def operator() -> Any:
    return OrganizationFactory(slug=settings.OPERATOR_ORGANIZATION_SLUG, is_operator=True)


def _member(operator: Any, kind: str) -> tuple[Any, APIClient]:
    user = UserFactory()
    MembershipFactory(user=user, organization=operator, role=roles_builtin_ensure()[kind])
    client = APIClient()
    client.force_authenticate(user)
    return user, client


@pytest.fixture
def officer(operator: Any) -> APIClient:
    # A compliance officer administers the programme: controls.manage and
    # reports.export come with the admin role.
    return _member(operator, "admin")[1]


def _text(pdf: bytes) -> str:
    return " ".join(
        " ".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages).split()
    )


def test_pdf_report_agrees_with_the_json_report_on_score_and_every_status(officer) -> None:
    checks_run()

    report = officer.get(URL).json()
    response = officer.get(f"{URL}?format=pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = _text(response.content)
    assert f"Compliance score: {report['score_display']}" in text

    # Narrow table columns break codes anywhere ("CX- COM-0 1"), so the
    # section is compared with its whitespace removed.
    compact = "".join(text.split())
    start = compact.index("2.Controlstatus", compact.index("Contents") + 40)
    section = compact[start : compact.index("Appendix:evidencemanifest", start)]
    controls = report["controls"]
    assert len(controls) == Control.objects.filter(is_active=True).count() > 10
    assert {c["status"] for c in controls} >= {"pass", "fail"}
    positions = [section.index(c["code"]) for c in controls]
    assert positions == sorted(positions)
    for n, control in enumerate(controls):
        end = positions[n + 1] if n + 1 < len(positions) else len(section)
        label = "".join(LABELS[control["status"]].split())
        assert f"Status:{label}" in section[positions[n] : end], control["code"]

    # The pack is recorded and signed: verify_pack's service knows it.
    pack = ReportPack.objects.get(public_id=response["X-Pack-Id"])
    assert pack.status == ReportPack.Status.DONE
    assert report_pack_verify(content=response.content).is_valid


def test_pdf_errors_answer_json_and_an_outsider_is_refused(officer) -> None:
    missing = officer.get(f"{URL}?format=pdf")
    assert missing.status_code == 404
    assert missing.json()["code"] == "no_run"

    checks_run()
    assert officer.get(f"{URL}?format=pdf").status_code == 200
    outsider = APIClient()
    outsider.force_authenticate(UserFactory())
    refused = outsider.get(f"{URL}?format=pdf")
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"


def _provider_queries() -> int:
    today = timezone.localdate()
    with CaptureQueriesContext(connection) as queries:
        data = engine_report_data(period_start=today.replace(day=1), period_end=today)
    assert data.controls
    return len(queries)


def test_provider_builds_from_the_stored_run_in_constant_queries() -> None:
    checks_run()
    first = _provider_queries()
    checks_run()
    checks_run()
    assert _provider_queries() == first

    today = timezone.localdate()
    data = engine_report_data(period_start=today, period_end=today)
    assert len(data.history) == 3
    report_json = data.as_json()
    assert all(
        len(item["sha256"]) == 64 for c in report_json["controls"] for item in c["evidence"]
    )
    failing = {c.code for c in data.controls if c.status == ControlStatus.FAILING}
    assert failing == {g.control_code for g in data.gaps if g.control_code in failing}
    assert failing


def test_mfa_coverage_counts_privileged_accounts_with_a_confirmed_device(operator: Any) -> None:
    from accounts.models import TOTPDevice
    from tests.accounts.auth_support import enrolled_device

    checks_run()
    roles = roles_builtin_ensure()
    customer = OrganizationFactory()
    owner, admin, member, gone = (UserFactory() for _ in range(4))
    for user, kind in ((owner, "owner"), (admin, "admin"), (member, "member"), (gone, "owner")):
        MembershipFactory(user=user, organization=customer, role=roles[kind])
    enrolled_device(owner)
    enrolled_device(member)  # not privileged: does not raise the share
    TOTPDevice.objects.create(user=admin, name="unconfirmed", confirmed=False)
    type(gone).objects.filter(pk=gone.pk).update(terminated_at=timezone.now())

    today = timezone.localdate()
    data = engine_report_data(period_start=today, period_end=today)
    # The owner of two privileged accounts in good standing has a device.
    assert str(data.security.mfa_coverage) == "50.0"

    enrolled_device(admin)
    data = engine_report_data(period_start=today, period_end=today)
    assert str(data.security.mfa_coverage) == "100.0"
    html = pack_html(data, ReportPack.Kind.SECURITY)
    assert "MFA coverage of privileged accounts</th><td>100.0%</td>" in html


def test_pack_heat_map_counts_the_open_risks_of_the_register() -> None:
    from compliance import charts
    from tests.compliance.governance_factories import RiskFactory

    checks_run()
    RiskFactory(likelihood=5, impact=1)
    RiskFactory(likelihood=5, impact=1)
    RiskFactory(likelihood=1, impact=4, status="closed")

    today = timezone.localdate()
    data = engine_report_data(period_start=today, period_end=today)
    assert data.security.register_risks == ((5, 1), (5, 1))
    heatmap = charts.risk_heatmap_chart(data.controls, data.security)
    row = next(r for r in heatmap.rows if r[0] == "Likelihood 5")
    # No control or alert lands in that cell: both are the register's.
    assert row[1] == "2"
    row = next(r for r in heatmap.rows if r[0] == "Likelihood 1")
    assert row[4] == "0"


# The report's reads: the run, categories, criteria, control scores,
# results, open action items, controls with their criteria and attestations
# (prefetched), the files answering evidence requests, the period's runs,
# the event counts, alerts, incidents, the register and MFA coverage. The
# same whatever the rows.
REPORT_DATA_QUERIES = 17


def test_report_data_reads_a_fixed_number_of_queries_whatever_the_rows(
    django_assert_num_queries,
) -> None:
    from datetime import timedelta

    from audit.models import Alert
    from compliance.models import Attestation
    from tests.compliance.governance_factories import RiskFactory

    checks_run()
    today = timezone.localdate()
    with django_assert_num_queries(REPORT_DATA_QUERIES):
        small = engine_report_data(period_start=today, period_end=today)

    # Attestations on every control, risks, alerts, more runs.
    attester, reviewer = UserFactory(), UserFactory()
    now = timezone.now()
    Attestation.objects.bulk_create(
        Attestation(
            control=control,
            statement="reviewed",
            file=f"attestations/{control.code}.pdf",
            file_name=f"{control.code}.pdf",
            sha256="0" * 64,
            attested_by=attester,
            reviewed_by=reviewer,
            expires_at=now + timedelta(days=30),
            created_at=now - timedelta(hours=1),
        )
        for control in Control.objects.filter(is_active=True)
        for _ in range(2)
    )
    for n in range(10):
        RiskFactory(likelihood=n % 5 + 1, impact=(n * 2) % 5 + 1)
    Alert.objects.bulk_create(
        Alert(
            rule="brute_force_ip",
            key=f"ip:192.0.2.{n}",
            title=f"Burst {n}",
            severity="high",
            first_event_at=now,
            last_event_at=now,
        )
        for n in range(10)
    )
    checks_run()
    with django_assert_num_queries(REPORT_DATA_QUERIES):
        large = engine_report_data(period_start=today, period_end=today)

    assert len(large.evidence) > len(small.evidence) + Control.objects.count()
    assert large.security.open_alerts == 10 and len(large.security.register_risks) == 10


def test_an_auditor_reading_or_downloading_the_soc2_report_is_audited() -> None:
    from audit.models import SecurityEvent

    operator = OrganizationFactory(slug=settings.OPERATOR_ORGANIZATION_SLUG, is_operator=True)
    auditor = UserFactory()
    MembershipFactory(user=auditor, organization=operator, role=roles_builtin_ensure()["auditor"])
    client = APIClient()
    client.force_authenticate(auditor)
    checks_run()

    assert client.get(URL).status_code == 200
    pdf = client.get(f"{URL}?format=pdf")
    assert pdf.status_code == 200

    events = SecurityEvent.objects.filter(actor_id=auditor.pk).order_by("pk")
    assert [(e.event_type, e.detail["subject"]) for e in events] == [
        (SecurityEvent.Type.EVIDENCE_VIEWED, "api:soc2-report"),
        (SecurityEvent.Type.EVIDENCE_DOWNLOADED, f"reports:pack:{pdf['X-Pack-Id']}"),
    ]


def test_the_pdf_report_is_an_export_a_plain_member_may_not_take(operator: Any) -> None:
    from django.test import Client

    _, member = _member(operator, "member")
    checks_run()
    assert member.get(URL).status_code == 200
    refused = member.get(f"{URL}?format=pdf")
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert not ReportPack.objects.exists()

    # The dashboard offers the PDF only to those who may take it.
    for kind, offered in (("member", False), ("auditor", True), ("admin", True)):
        browser = Client()
        browser.force_login(_member(operator, kind)[0])
        html = browser.get("/dashboard/").content.decode()
        assert ('id="export-pdf"' in html) is offered, kind


def test_files_answering_an_auditor_request_are_in_the_pack_manifest(
    operator: Any, tmp_path: Any, settings: Any
) -> None:
    import hashlib
    from datetime import timedelta

    from django.core.files.uploadedfile import SimpleUploadedFile

    from compliance.dashboard.evidence import (
        audit_liaison_designate,
        evidence_request_answer,
        evidence_request_create,
    )

    settings.MEDIA_ROOT = tmp_path
    auditor, _ = _member(operator, "auditor")
    liaison, _ = _member(operator, "admin")
    audit_liaison_designate(email=liaison.email, actor=liaison)
    checks_run()
    request = evidence_request_create(
        user=auditor,
        control=Control.objects.get(code="CX-BCK-01"),
        question="The last restore test?",
        due_on=timezone.localdate() + timedelta(days=5),
    )
    content = b"restore test of the 3rd: 14 minutes, checksums equal"
    evidence_request_answer(
        request=request,
        liaison=liaison,
        note="Attached.",
        files=[SimpleUploadedFile("restore.txt", content)],
    )
    digest = hashlib.sha256(content).hexdigest()

    today = timezone.localdate()
    data = engine_report_data(period_start=today, period_end=today)
    listed = [(c.code, item.sha256) for c, item in data.evidence]
    assert ("CX-BCK-01", digest) in listed
    html = pack_html(data, ReportPack.Kind.CONTROL_STATUS)
    assert f"{digest}  " in html and "restore.txt" in html
