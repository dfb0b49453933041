"""Charts rendered on the server as SVG by pygal, for pages and PDF packs.

pygal draws the geometry; this module only feeds it numbers. Its SVG embeds
a ``<style>`` (the chart's colours) and a ``<script>`` (a config blob for its
tooltips, emitted even with ``js=[]``). Charts are shown as images from a
``data:`` URI, so the page's strict CSP never sees the inline style and an
image's script never runs; the script is removed all the same, so the SVG
holds no code at all. Every chart carries the table of its numbers for
people who cannot see it.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import pygal
from pygal.style import Style

from compliance.reports.data import ControlReport, NamedScore, ScorePoint, SecuritySummary

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)

# Fonts that exist on the server, so the PDF and the page measure alike.
CHART_STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1f2933",
    foreground_strong="#111827",
    foreground_subtle="#9aa5b1",
    font_family="DejaVu Sans, Liberation Sans, sans-serif",
    colors=("#1d4ed8", "#059669", "#d97706", "#dc2626", "#7c3aed", "#0891b2"),
    title_font_size=16,
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=12,
    value_font_size=12,
)
CHART_OPTIONS = {
    "style": CHART_STYLE,
    "js": [],
    "width": 720,
    "height": 360,
    "disable_xml_declaration": True,
    "show_legend": True,
    "legend_at_bottom": True,
    "print_values": False,
}

LEVELS = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Chart:
    """One chart: its SVG, and the same numbers as a table."""

    slug: str
    title: str
    svg: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    @property
    def data_uri(self) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg.encode()).decode()


def _without_scripts(svg: bytes) -> str:
    root = ET.fromstring(svg)  # noqa: S314 - pygal's own output, not user input
    for parent in root.iter():
        for child in list(parent):
            if child.tag in {f"{{{SVG_NS}}}script", "script"}:
                parent.remove(child)
    return ET.tostring(root, encoding="unicode")


def _percent(value: Decimal) -> str:
    return f"{value:.1f}%"


def score_trend_chart(history: Sequence[ScorePoint]) -> Chart:
    """The overall score over time, one point per stored run."""
    chart = pygal.Line(
        title="Compliance score over time", range=(0, 100), x_label_rotation=30, **CHART_OPTIONS
    )
    chart.x_labels = [point.at.isoformat() for point in history]
    chart.add("Score (%)", [float(point.score) for point in history])
    return Chart(
        slug="score-trend",
        title="Compliance score over time",
        svg=_without_scripts(chart.render()),
        columns=("Date", "Score"),
        rows=tuple((point.at.isoformat(), _percent(point.score)) for point in history),
    )


def category_bars_chart(categories: Sequence[NamedScore]) -> Chart:
    """The score of each Trust Services category."""
    chart = pygal.HorizontalBar(title="Score per category", range=(0, 100), **CHART_OPTIONS)
    for category in categories:
        chart.add(category.name, [float(category.score)])
    return Chart(
        slug="category-scores",
        title="Score per category",
        svg=_without_scripts(chart.render()),
        columns=("Category", "Score"),
        rows=tuple((category.name, _percent(category.score)) for category in categories),
    )


def risk_cells(
    controls: Iterable[ControlReport], security: SecuritySummary
) -> Counter[tuple[int, int]]:
    """Count open risks per (likelihood, impact): the risk register's open
    entries, failing controls and open alerts, as the dashboard's heat map."""
    cells: Counter[tuple[int, int]] = Counter(security.register_risks)
    for control in controls:
        if not control.is_passing and control.status != "not_applicable":
            cells[(control.likelihood, control.impact)] += 1
    for likelihood, impact in security.alert_risks:
        cells[(likelihood, impact)] += 1
    return cells


def risk_heatmap_chart(controls: Iterable[ControlReport], security: SecuritySummary) -> Chart:
    """Likelihood by impact, as pygal's dot grid: a bigger dot is more risks."""
    cells = risk_cells(controls, security)
    chart = pygal.Dot(title="Risk heat map (likelihood by impact)", **CHART_OPTIONS)
    chart.x_labels = [f"Impact {impact}" for impact in LEVELS]
    for likelihood in reversed(LEVELS):
        chart.add(
            f"Likelihood {likelihood}",
            [cells.get((likelihood, impact), 0) for impact in LEVELS],
        )
    rows = tuple(
        (f"Likelihood {likelihood}", *(str(cells.get((likelihood, i), 0)) for i in LEVELS))
        for likelihood in reversed(LEVELS)
    )
    return Chart(
        slug="risk-heatmap",
        title="Risk heat map (likelihood by impact)",
        svg=_without_scripts(chart.render()),
        columns=("", *(f"Impact {impact}" for impact in LEVELS)),
        rows=rows,
    )
