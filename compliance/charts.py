"""Charts rendered on the server as SVG by pygal, for pages and PDF packs.

pygal draws the geometry; this module only feeds it numbers. pygal styles its
SVG with an embedded ``<style>`` sheet and the odd ``style=`` attribute, and
adds a ``<script>`` (a config blob for its tooltips, emitted even with
``js=[]``). Under the portal's strict CSP nothing may carry inline style or
script, not even an image: the sheet is applied here, once, as SVG
presentation attributes (``fill``, ``stroke``, ``font-size``...), and the
sheet, the style attributes and the script are removed. The same SVG is shown
in the page (as a ``data:`` image) and in the PDF. Every chart carries the
table of its numbers for people who cannot see it.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import cssselect2
import pygal
import tinycss2
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


# The CSS properties that SVG also takes as presentation attributes, and
# that pygal's sheet sets. Transitions, cursors and user-select only matter to
# an interactive chart and are dropped.
PRESENTATION_PROPERTIES = frozenset(
    {
        "display",
        "fill",
        "fill-opacity",
        "font-family",
        "font-size",
        "font-weight",
        "opacity",
        "stroke",
        "stroke-dasharray",
        "stroke-linecap",
        "stroke-linejoin",
        "stroke-opacity",
        "stroke-width",
        "text-anchor",
        "visibility",
    }
)
# States a static image never shows.
INTERACTIVE_STATES = (":hover", ".active", ".shown")


def _declarations(content: object) -> list[tuple[str, str, bool]]:
    """Return (property, value, important) for the presentation properties."""
    found = []
    for item in tinycss2.parse_declaration_list(content, skip_whitespace=True, skip_comments=True):
        if item.type != "declaration" or item.lower_name not in PRESENTATION_PROPERTIES:
            continue
        value = tinycss2.serialize(item.value).strip()
        # Presentation attributes take plain SVG lengths.
        if item.lower_name in {"font-size", "stroke-width"} and value.endswith("px"):
            value = value[:-2]
        found.append((item.lower_name, value, item.important))
    return found


def _presentational(root: ET.Element) -> None:
    """Apply the SVG's own style sheets and style attributes as presentation
    attributes, in cascade order, then remove the sheets and attributes."""
    sheets = [el for el in root.iter() if el.tag in {f"{{{SVG_NS}}}style", "style"}]
    rules: list[tuple[tuple[bool, tuple[int, int, int], int], Any, list[Any]]] = []
    order = 0
    for sheet in sheets:
        for rule in tinycss2.parse_stylesheet(
            sheet.text or "", skip_whitespace=True, skip_comments=True
        ):
            if rule.type != "qualified-rule":
                continue
            declarations = _declarations(rule.content)
            if not declarations:
                continue
            for text in tinycss2.serialize(rule.prelude).split(","):
                if any(state in text for state in INTERACTIVE_STATES):
                    continue
                (selector,) = cssselect2.compile_selector_list(text)
                for important in (False, True):
                    chosen = [d for d in declarations if d[2] is important]
                    if chosen:
                        order += 1
                        rules.append(((important, selector.specificity, order), selector, chosen))
    rules.sort(key=lambda entry: entry[0])

    wrapper = cssselect2.ElementWrapper.from_xml_root(root)
    for element in wrapper.iter_subtree():
        applied: dict[str, tuple[bool, str]] = {}
        for (important, _, _), selector, declarations in rules:
            if selector.test(element):
                for name, value, _ in declarations:
                    applied[name] = (important, value)
        inline = element.etree_element.attrib.pop("style", None)
        for name, value, important in _declarations(inline or ""):
            # An inline declaration beats the sheet unless the sheet's is
            # important.
            if not applied.get(name, (False, ""))[0] or important:
                applied[name] = (important, value)
        for name, (_, value) in applied.items():
            element.etree_element.set(name, value)

    for parent in root.iter():
        for child in list(parent):
            if child in sheets:
                parent.remove(child)


def _static_svg(svg: bytes) -> str:
    """Return pygal's SVG without script, style sheet or style attribute."""
    root = ET.fromstring(svg)  # noqa: S314 - pygal's own output, not user input
    for parent in root.iter():
        for child in list(parent):
            if child.tag in {f"{{{SVG_NS}}}script", "script"}:
                parent.remove(child)
    _presentational(root)
    return ET.tostring(root, encoding="unicode")


def _percent(value: Decimal) -> str:
    return f"{value:.1f}%"


def score_trend_chart(history: Sequence[ScorePoint]) -> Chart:
    """The overall score over time, one point per stored run."""
    chart = pygal.Line(
        title="Compliance score over time", range=(0, 100), x_label_rotation=30, **CHART_OPTIONS
    )
    labels = [_point_label(point) for point in history]
    chart.x_labels = labels
    chart.add("Score (%)", [float(point.score) for point in history])
    return Chart(
        slug="score-trend",
        title="Compliance score over time",
        svg=_static_svg(chart.render()),
        columns=("Run started", "Score"),
        rows=tuple(
            (label, _percent(point.score)) for label, point in zip(labels, history, strict=True)
        ),
    )


def _point_label(point: ScorePoint) -> str:
    """A run's start to the minute, so two runs of one day read apart."""
    if isinstance(point.at, datetime):
        return point.at.strftime("%Y-%m-%d %H:%M")
    return point.at.isoformat()


def category_bars_chart(categories: Sequence[NamedScore]) -> Chart:
    """The score of each Trust Services category."""
    chart = pygal.HorizontalBar(title="Score per category", range=(0, 100), **CHART_OPTIONS)
    for category in categories:
        chart.add(category.name, [float(category.score)])
    return Chart(
        slug="category-scores",
        title="Score per category",
        svg=_static_svg(chart.render()),
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
        svg=_static_svg(chart.render()),
        columns=("", *(f"Impact {impact}" for impact in LEVELS)),
        rows=rows,
    )
