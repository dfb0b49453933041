"""The PDF pack agrees with the JSON report, its contents point at the right
pages, and verify_pack tells a produced, unchanged pack from anything else."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import override_settings
from pypdf import PdfReader

from compliance.models import ReportPack
from compliance.reports.data import ControlStatus
from compliance.reports.render import SECTION_TITLES, SECTIONS
from tests.compliance.reports_sample import SAMPLE_PROVIDER, reports_user, sample_runs_record

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sample_provider")]

URL = "/api/compliance/reports/pack"
PERIOD = "from=2026-09-01&to=2026-11-30"


@pytest.fixture
def sample_provider(db):
    sample_runs_record()
    with override_settings(REPORTS_DATA_PROVIDER=SAMPLE_PROVIDER):
        yield


@pytest.fixture
def auditor_client(api_client):
    api_client.force_login(reports_user("auditor"))
    return api_client


def _pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(BytesIO(pdf)).pages]


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def pack(auditor_client) -> tuple[dict, bytes, str]:
    """The control status report of one period, as JSON and as PDF."""
    json_response = auditor_client.get(f"{URL}?format=json&kind=control_status&{PERIOD}")
    pdf_response = auditor_client.get(f"{URL}?format=pdf&kind=control_status&{PERIOD}")
    assert json_response.status_code == 200
    assert pdf_response.status_code == 200
    assert pdf_response["Content-Type"] == "application/pdf"
    return json_response.json(), pdf_response.content, pdf_response["X-Pack-Id"]


def test_pdf_shows_the_json_score_and_every_control_status(pack) -> None:
    report, pdf, _ = pack
    pages = _pages(pdf)
    text = _flat("\n".join(pages))

    assert f"Compliance score: {report['score']}%" in text
    assert f"Compliance score {report['score']}%" in _flat(pages[0])

    # Within the control status section, each control's row names its status.
    start = text.index("2. Control status", text.index("Contents") + 40)
    section = text[start : text.index("3. Appendix: evidence manifest", start)]
    codes = [control["code"] for control in report["controls"]]
    assert len(codes) == 12
    assert {control["status"] for control in report["controls"]} == set(ControlStatus.ALL)
    positions = [section.index(f"{code} Control {code}") for code in codes]
    assert positions == sorted(positions)
    for n, control in enumerate(report["controls"]):
        end = positions[n + 1] if n + 1 < len(positions) else len(section)
        label = ControlStatus.LABELS[control["status"]]
        assert f"Status: {label}" in section[positions[n] : end], control["code"]


@pytest.mark.parametrize("kind", list(ReportPack.Kind.values))
def test_toc_page_numbers_are_the_pages_where_sections_start(auditor_client, kind) -> None:
    response = auditor_client.get(f"{URL}?format=pdf&kind={kind}&{PERIOD}")
    pages = _pages(response.content)
    titles = [SECTION_TITLES[name] for name in (*SECTIONS[kind], "manifest")]

    toc_page = next(i for i, page in enumerate(pages) if page.startswith("Contents"))
    toc = {}
    for line in pages[toc_page].splitlines():
        match = re.fullmatch(r"(\d+)\. (.+) (\d+)", line.strip())
        if match:
            toc[match[2]] = int(match[3])
    assert list(toc) == titles

    for number, title in enumerate(titles, start=1):
        heading = f"{number}. {title}"
        starts = [
            i + 1
            for i, page in enumerate(pages)
            if i > toc_page and page.splitlines()[0].strip() == heading
        ]
        assert starts == [toc[title]], heading
    assert len(pages) >= toc[titles[-1]]


def test_every_page_carries_the_classification_and_its_number(pack) -> None:
    _, pdf, _ = pack
    pages = _pages(pdf)
    for number, page in enumerate(pages, start=1):
        assert page.count("CONFIDENTIAL") >= 2
        assert f"Page {number} of {len(pages)}" in page


def test_manifest_lists_every_evidence_item_with_its_sha256(pack) -> None:
    report, pdf, _ = pack
    text = "".join("".join(_pages(pdf)).split())
    hashes = [item["sha256"] for control in report["controls"] for item in control["evidence"]]
    assert len(hashes) == 24
    for sha256 in hashes:
        assert sha256 in text


def test_the_api_pack_is_recorded_hashed_and_signed(pack) -> None:
    _, pdf, pack_id = pack
    row = ReportPack.objects.get(public_id=pack_id)
    assert row.status == ReportPack.Status.DONE
    assert row.file.read() == pdf
    assert len(row.sha256) == 64 and len(row.signature) == 64
    assert row.signing_key_id == "hkdf:v1"
    assert row.page_count == len(_pages(pdf))
    assert row.evidence_count == 24


def _one_byte_changed(pdf: bytes) -> bytes:
    changed = bytearray(pdf)
    changed[len(changed) // 2] ^= 0x01
    return bytes(changed)


def test_verify_pack_accepts_the_file_and_rejects_it_after_one_byte_changed(
    pack, tmp_path: Path, capsys
) -> None:
    _, pdf, pack_id = pack
    original = tmp_path / "pack.pdf"
    original.write_bytes(pdf)

    call_command("verify_pack", str(original))
    assert f"valid: This is pack {pack_id}" in capsys.readouterr().out

    changed = tmp_path / "changed.pdf"
    changed.write_bytes(_one_byte_changed(pdf))
    with pytest.raises(CommandError, match="^(changed|unknown):"):
        call_command("verify_pack", str(changed))


def test_verify_pack_rejects_a_record_whose_signature_was_forged(pack, tmp_path: Path) -> None:
    _, pdf, pack_id = pack
    path = tmp_path / "pack.pdf"
    path.write_bytes(pdf)
    call_command("verify_pack", str(path))

    ReportPack.objects.filter(public_id=pack_id).update(signature="0" * 64)
    with pytest.raises(CommandError, match="^bad_signature:"):
        call_command("verify_pack", str(path))


def test_a_signing_key_change_invalidates_old_signatures(pack, tmp_path: Path) -> None:
    _, pdf, _ = pack
    path = tmp_path / "pack.pdf"
    path.write_bytes(pdf)
    call_command("verify_pack", str(path))

    with override_settings(REPORT_SIGNING_KEY="another-key-entirely"):
        with pytest.raises(CommandError, match="^bad_signature:"):
            call_command("verify_pack", str(path))


def test_verify_page_accepts_the_pack_and_rejects_a_changed_copy(pack, client) -> None:
    _, pdf, pack_id = pack
    client.force_login(reports_user("auditor"))

    accepted = client.post(
        "/reports/verify/", {"file": SimpleUploadedFile("pack.pdf", pdf, "application/pdf")}
    )
    assert accepted.status_code == 200
    assert b'data-outcome="valid"' in accepted.content
    assert pack_id.encode() in accepted.content

    refused = client.post(
        "/reports/verify/",
        {"file": SimpleUploadedFile("pack.pdf", _one_byte_changed(pdf), "application/pdf")},
    )
    assert refused.status_code == 200
    assert b'data-outcome="valid"' not in refused.content
    assert b"Not valid" in refused.content


def test_pdf_errors_are_answered_in_json(auditor_client) -> None:
    response = auditor_client.get(f"{URL}?format=pdf&kind=nonsense")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "invalid"


def test_report_api_needs_the_export_permission(api_client) -> None:
    assert api_client.get(f"{URL}?format=json").status_code == 401

    api_client.force_login(reports_user("auditor"))
    assert api_client.get(f"{URL}?format=json").status_code == 200

    api_client.force_login(reports_user("member"))
    response = api_client.get(f"{URL}?format=pdf")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_unknown_format_is_a_json_404(auditor_client) -> None:
    response = auditor_client.get(f"{URL}?format=xlsx")
    assert response.status_code == 404


def test_pdf_category_scores_and_counts_match_the_json(pack) -> None:
    report, pdf, _ = pack
    text = _flat("\n".join(_pages(pdf)))
    for category in report["categories"]:
        assert f"{category['name']} {category['score']}%" in text
    evidence = sum(len(control["evidence"]) for control in report["controls"])
    assert f"Open gaps: {len(report['gaps'])}." in text
    assert f"Evidence items: {evidence}." in text


def test_pack_templates_use_no_flex_or_grid_layout() -> None:
    """Long tables inside flex containers are what made a peer's export take minutes."""
    root = Path(__file__).resolve().parents[2]
    sources = [root / "static/css/reports-pdf.css", *(root / "templates/reports/pdf").glob("*")]
    for source in sources:
        text = source.read_text()
        assert not re.search(r"display\s*:\s*(inline-)?(flex|grid)", text), source.name
        assert " style=" not in text, source.name
