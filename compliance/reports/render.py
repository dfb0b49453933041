"""Render a pack: ReportData to HTML (templates) to PDF (WeasyPrint).

The templates use plain block layout and tables only: WeasyPrint lays out a
long table inside flex containers orders of magnitude slower (a peer's
40-page export took minutes for that reason alone).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.template.loader import render_to_string
from weasyprint import HTML

from compliance import charts
from compliance.models import ReportPack
from compliance.reports.data import ControlStatus, ReportData
from compliance.reports.fetcher import PDF_ASSET_ORIGIN, SafeURLFetcher, asset_url

logger = logging.getLogger(__name__)

Kind = ReportPack.Kind

# The sections of each pack, in order; each is templates/reports/pdf/<name>.html.
SECTIONS: dict[str, tuple[str, ...]] = {
    Kind.READINESS: ("summary", "categories", "trend", "controls", "gaps", "risks"),
    Kind.CONTROL_STATUS: ("summary", "controls"),
    Kind.GAP_ANALYSIS: ("summary", "gaps", "risks"),
    Kind.REMEDIATION: ("summary", "remediation"),
    Kind.SECURITY: ("summary", "security", "risks", "controls"),
}
SECTION_TITLES = {
    "summary": "Summary",
    "categories": "Scores per category and criterion",
    "trend": "Score over time",
    "controls": "Control status",
    "gaps": "Gap analysis",
    "remediation": "Remediation tracking",
    "security": "Security summary",
    "risks": "Risk heat map",
    "manifest": "Appendix: evidence manifest",
}

# The manifest's first line names its fields, aligned over the fixed-width
# ones: 64 hex digits, 5 digits of number, 10 of date.
MANIFEST_HEADER = f"{'SHA-256':<64}  {'#':>5}  {'Collected':<10}  Control  Evidence"

Progress = Callable[[int, str], None]


@dataclass(frozen=True)
class RenderedPack:
    pdf: bytes
    page_count: int
    html_seconds: float
    layout_seconds: float
    write_seconds: float
    fetcher: SafeURLFetcher


def _no_progress(percent: int, step: str) -> None:
    return None


# WeasyPrint logs one record per page it lays out on this documented logger.
PROGRESS_LOGGER = logging.getLogger("weasyprint.progress")
LAYOUT_PAGE_MESSAGE = "Step 5 - Creating layout - Page %d"
LAYOUT_FROM, LAYOUT_TO = 35, 80


class _LayoutProgress(logging.Handler):
    """Report layout progress page by page, from this thread's records only."""

    def __init__(self, progress: Progress, expected_pages: int) -> None:
        super().__init__(level=logging.INFO)
        self.progress = progress
        self.expected_pages = max(expected_pages, 1)
        self.thread = threading.get_ident()
        self.percent = LAYOUT_FROM

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread or record.msg != LAYOUT_PAGE_MESSAGE:
            return
        args = record.args
        page = args[0] if isinstance(args, tuple) and args and isinstance(args[0], int) else 0
        share = min(page / self.expected_pages, 1.0)
        percent = LAYOUT_FROM + int((LAYOUT_TO - LAYOUT_FROM) * share)
        # Repagination lays pages out again from 1: never move backwards, and
        # write at most once per percent.
        if percent > self.percent:
            self.percent = percent
            self.progress(percent, f"Laying out page {page}")


@contextmanager
def _layout_progress(progress: Progress, expected_pages: int) -> Iterator[None]:
    if progress is _no_progress:
        yield
        return
    handler = _LayoutProgress(progress, expected_pages)
    PROGRESS_LOGGER.addHandler(handler)
    try:
        yield
    finally:
        PROGRESS_LOGGER.removeHandler(handler)


def expected_pages(data: ReportData) -> int:
    """Guess a pack's length from its rows, for the progress bar only."""
    return 6 + len(data.controls) // 7 + len(data.evidence) // 80 + len(data.gaps) // 15


def pack_context(
    data: ReportData, kind: str, *, pack_id: str = "", today: date | None = None
) -> dict[str, Any]:
    """Everything the pack templates show, prepared here so templates only format."""
    today = today or data.generated_at.date()
    sections = (*SECTIONS[kind], "manifest")
    action_rows = [
        {
            "gap": gap,
            "item": item,
            "age_days": item.age_days(today),
            "overdue": item.is_overdue(today),
        }
        for gap, item in sorted(
            data.action_items,
            key=lambda pair: (not pair[1].is_overdue(today), pair[1].due_on),
        )
    ]
    gaps_by_criterion: dict[str, list[Any]] = {}
    controls_by_code = {control.code: control for control in data.controls}
    for gap in sorted(data.gaps, key=lambda gap: (gap.criterion, gap.control_code)):
        gaps_by_criterion.setdefault(gap.criterion, []).append(
            {"gap": gap, "control": controls_by_code.get(gap.control_code)}
        )
    counts = data.status_counts()
    return {
        "data": data,
        "kind": kind,
        "kind_label": Kind(kind).label,
        "pack_id": pack_id,
        "today": today,
        "sections": [(name, SECTION_TITLES[name]) for name in sections],
        "status_counts": [(ControlStatus.LABELS[key], counts[key]) for key in ControlStatus.ALL],
        "action_rows": action_rows,
        "gaps_by_criterion": sorted(gaps_by_criterion.items()),
        "evidence_rows": data.evidence,
        "manifest_header": MANIFEST_HEADER,
        "charts": _charts(data, sections),
        "stylesheet_url": asset_url("css/reports-pdf.css"),
    }


def _charts(data: ReportData, sections: tuple[str, ...]) -> dict[str, charts.Chart]:
    """Draw only the charts the pack's sections show."""
    drawn = {}
    if "trend" in sections:
        drawn["trend"] = charts.score_trend_chart(data.history)
    if "categories" in sections:
        drawn["categories"] = charts.category_bars_chart(data.categories)
    if "risks" in sections:
        drawn["risks"] = charts.risk_heatmap_chart(data.controls, data.security)
    return drawn


def pack_html(data: ReportData, kind: str, *, pack_id: str = "") -> str:
    return render_to_string("reports/pdf/pack.html", pack_context(data, kind, pack_id=pack_id))


def html_to_pdf(
    html: str, *, pack_id: str = "", progress: Progress = _no_progress, pages_guess: int = 0
) -> tuple[bytes, int, float, float, SafeURLFetcher]:
    """Lay out and write a PDF with the safe fetcher; return bytes, pages and timings."""
    fetcher = SafeURLFetcher()
    started = time.perf_counter()
    source = HTML(string=html, base_url=PDF_ASSET_ORIGIN + "/", url_fetcher=fetcher)
    with _layout_progress(progress, pages_guess):
        document = source.render()
    laid_out = time.perf_counter()
    progress(85, "Writing the PDF")
    if pack_id:
        document.metadata.custom["cx-pack-id"] = pack_id
    pdf = document.write_pdf(custom_metadata=True)
    written = time.perf_counter()
    return pdf, len(document.pages), laid_out - started, written - laid_out, fetcher


def pack_render(
    data: ReportData, kind: str, *, pack_id: str = "", progress: Progress = _no_progress
) -> RenderedPack:
    """Render one pack of ``kind`` for ``data``."""
    started = time.perf_counter()
    progress(20, "Preparing tables and charts")
    html = pack_html(data, kind, pack_id=pack_id)
    html_seconds = time.perf_counter() - started

    progress(35, "Laying out pages")
    pdf, pages, layout_seconds, write_seconds, fetcher = html_to_pdf(
        html, pack_id=pack_id, progress=progress, pages_guess=expected_pages(data)
    )
    logger.info(
        "reports.pack_rendered",
        extra={
            "kind": kind,
            "pages": pages,
            "html_seconds": round(html_seconds, 3),
            "layout_seconds": round(layout_seconds, 3),
            "write_seconds": round(write_seconds, 3),
        },
    )
    return RenderedPack(pdf, pages, html_seconds, layout_seconds, write_seconds, fetcher)
