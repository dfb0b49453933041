"""Charts: pygal SVG without script, the same numbers in a table, drawn in the PDF."""

from __future__ import annotations

import base64
import logging
import re
import xml.etree.ElementTree as ET

import pytest
from django.test import override_settings

from compliance import charts
from compliance.models import ReportPack
from compliance.reports.render import pack_render
from tests.compliance.reports_sample import (
    SAMPLE_PROVIDER,
    reports_user,
    sample_report_data,
    sample_runs_record,
)


def _all_charts():
    data = sample_report_data()
    return data, [
        charts.score_trend_chart(data.history),
        charts.category_bars_chart(data.categories),
        charts.risk_heatmap_chart(data.controls, data.security),
    ]


def test_chart_svg_holds_no_script_no_inline_style_and_no_external_reference() -> None:
    _, drawn = _all_charts()
    for chart in drawn:
        root = ET.fromstring(chart.svg)
        tags = {element.tag.rsplit("}", 1)[-1] for element in root.iter()}
        assert "script" not in tags
        # Styled by presentation attributes, as the strict CSP wants: no
        # style sheet and no style attribute anywhere in the image.
        assert "style" not in tags
        assert not [el for el in root.iter() if "style" in el.attrib]
        assert {"path", "rect", "text"} & tags
        # pygal's colours arrive as attributes: the first series' colour,
        # the text's font and size.
        fills = {el.get("fill") for el in root.iter()}
        strokes = {el.get("stroke") for el in root.iter()}
        assert charts.CHART_STYLE.colors[0] in fills | strokes, chart.slug
        assert any(el.get("font-size") == "12" for el in root.iter()), chart.slug
        for element in root.iter():
            for name, value in element.attrib.items():
                if name.endswith("href"):
                    assert value.startswith("#"), value
        assert base64.b64decode(chart.data_uri.split(",", 1)[1]).decode() == chart.svg


def test_chart_tables_carry_the_charted_numbers() -> None:
    data, (trend, categories, heatmap) = _all_charts()
    assert [row[1] for row in trend.rows] == [f"{p.score:.1f}%" for p in data.history]
    assert [row[0] for row in categories.rows] == [c.name for c in data.categories]

    cells = charts.risk_cells(data.controls, data.security)
    failing = sum(1 for c in data.controls if c.status not in {"passing", "not_applicable"})
    security = data.security
    assert sum(cells.values()) == (
        failing + len(security.alert_risks) + len(security.register_risks)
    )
    assert sum(int(n) for row in heatmap.rows for n in row[1:]) == sum(cells.values())
    # Likelihood 2, impact 3 holds both alerts and the register's risk
    # planted there; likelihood 5, impact 1 only the register's other one.
    row = next(r for r in heatmap.rows if r[0] == "Likelihood 2")
    assert int(row[3]) == cells[(2, 3)] >= 3
    row = next(r for r in heatmap.rows if r[0] == "Likelihood 5")
    assert int(row[1]) == cells[(5, 1)] >= 1


def test_charts_render_in_the_pdf_without_errors(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="weasyprint")
    rendered = pack_render(sample_report_data(), ReportPack.Kind.READINESS)

    svgs = [url for url in rendered.fetcher.served if url.startswith("data:image/svg+xml")]
    assert len(svgs) == 3
    assert rendered.fetcher.refused == []
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.django_db
@override_settings(REPORTS_DATA_PROVIDER=SAMPLE_PROVIDER)
def test_overview_page_shows_charts_as_images_under_the_strict_csp(client) -> None:
    sample_runs_record()
    client.force_login(reports_user("auditor"))
    response = client.get("/reports/")
    html = response.content.decode()

    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert len(re.findall(r'<img class="chart-image" src="data:image/svg\+xml;base64,', html)) == 3
    assert len(re.findall(r'<table class="chart-data', html)) == 3
    assert "<style" not in html and " style=" not in html
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []
