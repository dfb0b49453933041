"""Checking a pack: the command's messages and exit codes, and the verify
page's upload limit."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from tests.compliance.reports_sample import reports_user

pytestmark = pytest.mark.django_db


def test_verify_pack_on_a_directory_says_so_and_exits_2(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as refused:
        call_command("verify_pack", str(tmp_path))
    assert str(refused.value) == f"{tmp_path} is a directory, not a PDF pack"
    assert refused.value.returncode == 2


def test_verify_pack_on_a_missing_file_names_its_whole_path_and_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "sub" / "pack.pdf"
    with pytest.raises(CommandError) as refused:
        call_command("verify_pack", str(missing))
    assert str(refused.value) == f"no such file: {missing}"
    assert refused.value.returncode == 2


def test_verify_pack_on_a_file_that_is_no_pack_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "notes.pdf"
    path.write_bytes(b"not a pack")
    with pytest.raises(CommandError, match="^unknown:") as refused:
        call_command("verify_pack", str(path))
    assert refused.value.returncode == 1


@override_settings(MAX_UPLOAD_BYTES=1024 * 1024)
def test_an_upload_over_the_limit_gets_the_error_page_naming_the_limit(client) -> None:
    client.force_login(reports_user("auditor"))
    page = client.get("/reports/verify/").content.decode()
    assert "Up to 1 MiB." in page

    response = client.post(
        "/reports/verify/",
        data=b"x" * (1024 * 1024 + 1),
        content_type="application/octet-stream",
    )

    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    assert "413 &middot; File too large" in body
    assert "Uploads are limited to 1 MiB" in body
