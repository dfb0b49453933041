"""Point-in-time recovery: a private cluster with WAL archiving, a base
backup, rows written before and after a chosen moment, and a restore by
scripts/pitr.sh that holds exactly the rows from before it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PITR = ROOT / "scripts" / "pitr.sh"
pytestmark = pytest.mark.slow


def _bin(name: str) -> str:
    folder = os.environ.get("PG_BIN", "")
    found = str(Path(folder) / name) if folder else shutil.which(name)
    if not found or not Path(found).exists():
        pytest.skip(f"{name} not found: run with PG_BIN from scripts/services.sh")
    return found


def _as_pg(*args: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.getuid() == 0 else list(args)


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(*args: str, **kwargs) -> str:
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, **kwargs)
    assert result.returncode == 0, result.stderr
    return result.stdout


class Cluster:
    def __init__(self, data: Path, port: int) -> None:
        self.data, self.port = data, port

    def start(self) -> None:
        _run(
            *_as_pg(
                _bin("pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.data.parent / f"{self.data.name}.log"),
                "-w",
                "-t",
                "60",
                "start",
                "-o",
                f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1",
            )
        )

    def stop(self) -> None:
        subprocess.run(
            _as_pg(_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"),
            capture_output=True,
            timeout=60,
        )

    def sql(self, query: str) -> str:
        return _run(
            _bin("psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            query,
        ).strip()


@pytest.fixture
def pitr_folder():
    # pytest's own temporary folders are private to their user; the server
    # runs as postgres when the tests run as root.
    folder = Path(tempfile.mkdtemp(prefix="cx-pitr-"))
    os.chmod(folder, 0o755)
    if os.getuid() == 0:
        shutil.chown(folder, "postgres")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_pitr_restores_to_the_chosen_moment(pitr_folder: Path) -> None:
    base = pitr_folder
    archive, backup, restored = base / "archive", base / "base", base / "restored"
    primary = Cluster(base / "primary", _port())
    _run(*_as_pg(_bin("initdb"), "-D", str(primary.data), "-U", "postgres", "--auth=trust"))
    config = _run(str(PITR), "config", str(archive), env={**os.environ})
    with (primary.data / "postgresql.conf").open("a") as handle:
        handle.write(config)
    primary.start()
    try:
        primary.sql("CREATE TABLE ledger (id serial PRIMARY KEY, phase text NOT NULL)")
        primary.sql(
            "INSERT INTO ledger (phase) SELECT 'before-backup' FROM generate_series(1, 10)"
        )
        _run(
            str(PITR),
            "base-backup",
            str(backup),
            env={**os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(primary.port)},
        )
        primary.sql("INSERT INTO ledger (phase) SELECT 'kept' FROM generate_series(1, 5)")
        # The moment is read after 'kept' committed and before 'lost' begins.
        moment = primary.sql("SELECT clock_timestamp()")
        primary.sql("INSERT INTO ledger (phase) SELECT 'lost' FROM generate_series(1, 7)")
        segment = primary.sql("SELECT pg_walfile_name(pg_switch_wal())")
        for _ in range(600):  # bounded: until the archiver reports the segment
            if primary.sql("SELECT last_archived_wal FROM pg_stat_archiver") >= segment:
                break
            primary.sql("SELECT pg_sleep(0.05)")
        else:
            pytest.fail("the WAL segment was never archived")
    finally:
        primary.stop()

    _run(str(PITR), "restore", str(backup), str(archive), str(restored), moment)
    recovered = Cluster(restored, _port())
    with (restored / "postgresql.auto.conf").open("a") as handle:
        handle.write(f"port = {recovered.port}\n")
    recovered.start()
    try:
        for _ in range(600):
            if recovered.sql("SELECT pg_is_in_recovery()") == "f":
                break
            recovered.sql("SELECT pg_sleep(0.05)")
        counts = recovered.sql(
            "SELECT phase || '=' || count(*) FROM ledger GROUP BY phase ORDER BY phase"
        )
    finally:
        recovered.stop()
    assert counts.splitlines() == ["before-backup=10", "kept=5"]


def test_restore_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    target = tmp_path / "busy"
    target.mkdir()
    (target / "PG_VERSION").write_text("15")
    result = subprocess.run(
        [str(PITR), "restore", str(tmp_path), str(tmp_path), str(target), "now"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1 and "not empty" in result.stderr
