"""Run every benchmark under tests/bench/, collect their BENCH lines, fail
when one misses its target, and write the figures into README.md between
the benchmark markers."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"


def run(path: Path) -> tuple[int, list[dict[str, object]]]:
    print(f"== {path.name}", flush=True)
    command = [sys.executable, "-m", "pytest", str(path), "-q", "-s", "-p", "no:cacheprovider"]
    proc = subprocess.run(command, cwd=ROOT, env=os.environ, capture_output=True, text=True)
    sys.stdout.write(proc.stdout[-4000:])
    sys.stderr.write(proc.stderr[-2000:])
    rows = [
        json.loads(line[len("BENCH ") :])
        for line in proc.stdout.splitlines()
        if line.startswith("BENCH ")
    ]
    return proc.returncode, rows


def table(rows: list[dict[str, object]]) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    lines = [
        f"Figures from one `make bench` run on {stamp} ({os.cpu_count()} cores, "
        f"Python {platform.python_version()}):",
        "",
        "| benchmark | figure | ratio to baseline | target | met |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        ratio = "" if row["ratio"] is None else f"{row['ratio']}x {row['baseline']}".strip()
        met = "yes" if row["ok"] else "**no**"
        lines.append(
            f"| {row['name']} | {row['value']} {row['unit']} | {ratio} | {row['target']} | {met} |"
        )
    return "\n".join(lines)


def main() -> int:
    only = sys.argv[1:]
    paths = sorted((ROOT / "tests" / "bench").glob("bench_*.py"))
    if only:
        paths = [p for p in paths if any(o in p.name for o in only)]
    status, rows = 0, []
    for path in paths:
        code, found = run(path)
        rows.extend(found)
        if code != 0 or not found:
            status = 1
    if rows and not only:
        readme = ROOT / "README.md"
        text = readme.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            readme.write_text(f"{head}{BEGIN}\n{table(rows)}\n{END}{tail}")
    missed = [r["name"] for r in rows if not r["ok"]]
    print(f"{len(rows)} figures, {len(missed)} missed targets" + (f": {missed}" if missed else ""))
    return 1 if missed else status


if __name__ == "__main__":
    raise SystemExit(main())
