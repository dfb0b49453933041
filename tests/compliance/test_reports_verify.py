"""Checking a pack from the command line: its messages and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

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
