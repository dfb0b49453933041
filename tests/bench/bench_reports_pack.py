"""Benchmark: time and peak memory to render a 100-page PDF pack.

    python tests/bench/bench_reports_pack.py            # or
    pytest -s tests/bench/bench_reports_pack.py

Two renderings, each in its own process so peak RSS is its own:

* ``pack``: the readiness pack as the portal builds it (cover, table of
  contents with target-counter page numbers, @page margin boxes with the
  classification, string-set, three pygal charts, fixed-layout tables, the
  manifest as a checksum listing);
* ``baseline``: the same HTML with those extras taken out (a plain
  stylesheet, no charts), so the cost of the extras is visible.

Targets: under 20 s and under 600 MB for the pack. Wall time depends on what
else the machine runs, so CPU time and the load average are printed too.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET_SECONDS = 20.0
TARGET_MB = 600.0
# Sized to lay out at about 100 pages of A4: 175 controls (about 28 pages of
# control status) and 6,125 evidence items (about 72 pages of manifest, at
# 85 items a page).
CONTROLS = int(os.environ.get("BENCH_CONTROLS", "175"))
EVIDENCE_PER_CONTROL = int(os.environ.get("BENCH_EVIDENCE", "35"))

BASELINE_CSS = (
    "<style>@page { size: A4; margin: 20mm 16mm; } "
    "html { font: 9.5pt/1.35 'DejaVu Sans', sans-serif; } "
    "table { width: 100%; border-collapse: collapse; } "
    "th, td { border: 0.4pt solid #999; padding: 1mm; text-align: left; }</style>"
)


def _baseline(html: str) -> str:
    html = re.sub(r'<link rel="stylesheet"[^>]*>', BASELINE_CSS, html)
    html = re.sub(r'<img class="chart-image"[^>]*>', "", html)
    return re.sub(r'<a class="page-ref"[^>]*></a>', "", html)


def child(mode: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloudexpress.settings")
    os.environ.setdefault("DJANGO_ENV", "embedded")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from compliance.models import ReportPack
    from compliance.reports.render import html_to_pdf, pack_html
    from tests.compliance.reports_sample import sample_report_data

    data = sample_report_data(controls=CONTROLS, evidence_per_control=EVIDENCE_PER_CONTROL)
    wall, cpu = time.perf_counter(), time.process_time()
    html = pack_html(data, ReportPack.Kind.READINESS)
    if mode == "baseline":
        html = _baseline(html)
    pdf, pages, layout, write, _ = html_to_pdf(html)
    result = {
        "mode": mode,
        "pages": pages,
        "seconds": round(time.perf_counter() - wall, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "layout_seconds": round(layout, 2),
        "write_seconds": round(write, 2),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "pdf_kb": len(pdf) // 1024,
        "evidence_items": len(data.evidence),
    }
    print("BENCH " + json.dumps(result))


def run(mode: str) -> dict[str, object]:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    line = next(x for x in completed.stdout.splitlines() if x.startswith("BENCH "))
    return json.loads(line[len("BENCH ") :])


def main() -> list[dict[str, object]]:
    results = [run("baseline"), run("pack")]
    load = os.getloadavg()
    print(f"\nreports pack benchmark ({os.cpu_count()} CPUs, load {load[0]:.1f} {load[1]:.1f})")
    print(f"{'':10}{'pages':>7}{'wall s':>9}{'cpu s':>8}{'layout':>8}{'write':>7}{'peak MB':>9}")
    for r in results:
        print(
            f"{r['mode']:10}{r['pages']:>7}{r['seconds']:>9}{r['cpu_seconds']:>8}"
            f"{r['layout_seconds']:>8}{r['write_seconds']:>7}{r['peak_mb']:>9}"
        )
    pack = results[1]

    def verdict(ok: bool) -> str:
        return "within target" if ok else "OUTSIDE target"

    print(f"pack wall time {pack['seconds']} s: {verdict(pack['seconds'] < TARGET_SECONDS)}")
    print(
        f"pack CPU time {pack['cpu_seconds']} s: {verdict(pack['cpu_seconds'] < TARGET_SECONDS)}"
        " (what the wall time would be on an idle core)"
    )
    print(f"pack peak memory {pack['peak_mb']} MB: {verdict(pack['peak_mb'] < TARGET_MB)}")
    return results


def test_bench_reports_pack() -> None:
    # Imported here: the file also runs as a script, without the repository
    # on its path.
    from tests.bench.report import finish, report

    results = main()
    baseline, pack = results
    report(
        f"readiness pack PDF ({pack['pages']} pages), CPU",
        float(pack["cpu_seconds"]),
        "s",
        target=f"< {TARGET_SECONDS:g} s",
        ok=float(pack["cpu_seconds"]) < TARGET_SECONDS,
        ratio=float(pack["cpu_seconds"]) / max(float(baseline["cpu_seconds"]), 0.01),
        baseline="same pack, baseline layout",
    )
    report(
        "readiness pack peak memory",
        float(pack["peak_mb"]),
        "MB",
        target=f"< {TARGET_MB:g} MB",
        ok=float(pack["peak_mb"]) < TARGET_MB,
    )
    finish()
    assert int(pack["pages"]) >= 100
    assert float(pack["peak_mb"]) < TARGET_MB


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        main()
