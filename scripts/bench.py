"""Run every benchmark under tests/bench/ in one go, collect their BENCH
lines, fail when one misses its target, and write the figures of that one
run into README.md between the benchmark markers.

    scripts/bench.py                 every benchmark at the issue's sizes
    scripts/bench.py retention load  only the files whose names contain these
                                     (the README is left alone)

BENCH_SCALE (a fraction, default 1) multiplies every benchmark's data size
for a quicker check of the plumbing; a scaled run leaves the README alone,
because its figures are not the issue's. BENCH_TIMEOUT bounds each file
(seconds, default 3600).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"

# The size knob of each benchmark and its default, the size the issue names.
# The report pack is not scaled: its target is about a 100-page PDF.
SIZES: dict[str, int] = {
    "BENCH_AUDIT_ROWS": 1_000_000,
    "BENCH_EVENTS": 1_000_000,
    "BENCH_INGEST_LINES": 50_000,
    "BENCH_DETECTION_EVENTS": 1_000_000,
    "BENCH_EXPORT_EVENTS": 100_000,
    "BENCH_RETENTION_ROWS": 1_000_000,
}


def scaled_environment(scale: float) -> dict[str, str]:
    """The environment for the benchmarks: sizes set explicitly stay, the
    others are the defaults times ``scale``."""
    env = dict(os.environ)
    if scale != 1:
        for name, default in SIZES.items():
            env.setdefault(name, str(max(1, int(default * scale))))
    return env


def run(path: Path, env: dict[str, str], timeout: float) -> dict[str, object]:
    """Run one benchmark file, echoing its output; its figures and costs."""
    print(f"== {path.name}", flush=True)
    command = [sys.executable, "-m", "pytest", str(path), "-q", "-s", "-p", "no:cacheprovider"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    rows: list[dict[str, object]] = []
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    # The bound holds even for a benchmark that hangs without printing.
    expired = threading.Event()

    def stop() -> None:
        expired.set()
        os.killpg(proc.pid, signal.SIGKILL)

    timer = threading.Timer(timeout, stop)
    timer.start()
    for line in proc.stdout:
        sys.stdout.write(line)
        if line.startswith("BENCH "):
            try:
                row = json.loads(line[len("BENCH ") :])
            except ValueError:
                continue
            # A child's own records (no name) are not figures.
            if isinstance(row, dict) and "name" in row and "ok" in row:
                rows.append(row)
    code = proc.wait()
    timer.cancel()
    timed_out = expired.is_set()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.monotonic() - started
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"-- {path.name}: {wall:.1f} s wall, {cpu:.1f} s CPU, exit {code}", flush=True)
    return {
        "file": path.name,
        "code": -1 if timed_out else code,
        "rows": rows,
        "wall": wall,
        "cpu": cpu,
        "timed_out": timed_out,
    }


def table(results: list[dict[str, object]], total_wall: float) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    lines = [
        f"Figures from one `make bench` run on {stamp} ({os.cpu_count()} cores, "
        f"Python {platform.python_version()}), {total_wall / 60:.1f} minutes in all:",
        "",
        "| benchmark | figure | ratio to baseline | target | met |",
        "| --- | --- | --- | --- | --- |",
    ]
    for result in results:
        for row in result["rows"]:  # type: ignore[attr-defined]
            ratio = "" if row["ratio"] is None else f"{row['ratio']}x {row['baseline']}".strip()
            met = "yes" if row["ok"] else "**no**"
            lines.append(
                f"| {row['name']} | {row['value']} {row['unit']} | {ratio} "
                f"| {row['target']} | {met} |"
            )
    lines += ["", "| file | wall | CPU | exit |", "| --- | --- | --- | --- |"]
    for result in results:
        lines.append(
            f"| {result['file']} | {result['wall']:.0f} s | {result['cpu']:.0f} s "
            f"| {result['code']} |"
        )
    return "\n".join(lines)


def readme_write(text: str) -> bool:
    readme = ROOT / "README.md"
    content = readme.read_text()
    if BEGIN not in content or END not in content:
        return False
    head, rest = content.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")
    return True


def main() -> int:
    only = sys.argv[1:]
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    timeout = float(os.environ.get("BENCH_TIMEOUT", "3600"))
    paths = sorted((ROOT / "tests" / "bench").glob("bench_*.py"))
    if only:
        paths = [p for p in paths if any(o in p.name for o in only)]
    if not paths:
        print(f"no benchmark matches {only}", file=sys.stderr)
        return 1
    env = scaled_environment(scale)

    started = time.monotonic()
    results = [run(path, env, timeout) for path in paths]
    total = time.monotonic() - started

    print(f"\n{'file':32}{'wall s':>9}{'cpu s':>9}{'figures':>9}  exit")
    for result in results:
        print(
            f"{result['file']:32}{result['wall']:>9.1f}{result['cpu']:>9.1f}"
            f"{len(result['rows']):>9}  {result['code']}"  # type: ignore[arg-type]
        )
    print(f"{'all':32}{total:>9.1f}{sum(r['cpu'] for r in results):>9.1f}")  # type: ignore[misc]

    rows = [row for result in results for row in result["rows"]]  # type: ignore[attr-defined]
    missed = [row["name"] for row in rows if not row["ok"]]
    # A file that failed or printed no figure fails the run like a miss.
    broken = [r["file"] for r in results if r["code"] != 0 or not r["rows"]]
    if only or scale != 1:
        print("README left alone: a partial or scaled run is not the issue's figures")
    elif rows:
        readme_write(table(results, total))
    print(
        f"{len(rows)} figures, {len(missed)} missed targets"
        + (f": {missed}" if missed else "")
        + (f"; failed files: {broken}" if broken else "")
    )
    return 1 if missed or broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
