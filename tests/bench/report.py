"""One format for every benchmark's figures, so `make bench` can collect
them and write the README's table from one run."""

from __future__ import annotations

import json
import sys

_failures: list[str] = []


def report(
    name: str,
    value: float,
    unit: str,
    *,
    target: str,
    ok: bool,
    ratio: float | None = None,
    baseline: str = "",
) -> None:
    """Print one figure as a line that scripts/bench.py reads."""
    line = {
        "name": name,
        "value": round(value, 4),
        "unit": unit,
        "target": target,
        "ok": bool(ok),
        "ratio": None if ratio is None else round(ratio, 3),
        "baseline": baseline,
    }
    print("BENCH " + json.dumps(line), flush=True)
    if not ok:
        _failures.append(name)


def finish() -> None:
    """Exit non-zero when any figure missed its target."""
    if _failures:
        missed = ", ".join(_failures)
        # Cleared, so that the next test in the same process is judged on
        # its own figures.
        _failures.clear()
        print(f"missed targets: {missed}", file=sys.stderr)
        raise SystemExit(1)
