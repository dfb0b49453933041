"""User text cannot make the PDF renderer read a local file or reach any address.

Each hostile construct is rendered twice: with WeasyPrint's default fetcher,
to prove that the construct really leaks (the listener sees requests, the
PDF gains attachments, images and fonts), and with the portal's fetcher, to
prove that nothing leaks. A listener on 127.0.0.1 records every request.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path

import pytest
from django.test import override_settings
from PIL import Image
from pypdf import PdfReader
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from compliance.models import ReportPack
from compliance.reports.fetcher import PDF_ASSET_ORIGIN, SafeURLFetcher, asset_url
from compliance.reports.render import pack_render
from tests.compliance.reports_sample import sample_report_data


def _any_system_font() -> Path:
    """A font file fontconfig knows; which one does not matter, it is renamed."""
    found = subprocess.run(
        ["fc-match", "-f", "%{file}", "sans"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if not found or not Path(found).is_file():
        pytest.skip("fontconfig finds no font file to plant")
    return Path(found)


def _png(color: str) -> bytes:
    out = BytesIO()
    Image.new("RGB", (8, 8), color).save(out, format="PNG")
    return out.getvalue()


@dataclass
class Listener:
    port: int
    requests: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def listener() -> Iterator[Listener]:
    """An HTTP server on 127.0.0.1 that records every request it receives."""
    png = _png("red")
    state = Listener(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            if self.path.endswith("redirect.png"):
                self.send_response(302)
                self.send_header("Location", f"{state.origin}/landed.png")
                self.end_headers()
                return
            if self.path.endswith(".css"):
                body, kind = b"p { color: red; }", "text/css"
            elif self.path.endswith(".txt"):
                body, kind = b"listener attachment", "text/plain"
            else:
                body, kind = png, "image/png"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def local_files(tmp_path: Path) -> dict[str, Path]:
    """Files the renderer must never read: a secret, an image, a font, a stylesheet."""
    secret = tmp_path / "secret.txt"
    secret.write_text(f"CANARY-{uuid.uuid4().hex}")
    image = tmp_path / "local.png"
    image.write_bytes(_png("blue"))
    font = tmp_path / "leak.ttf"
    shutil.copy(_any_system_font(), font)
    css = tmp_path / "local.css"
    css.write_text("p { color: green; }")
    return {"secret": secret, "image": image, "font": font, "css": css}


def hostile_html(listener: Listener, files: dict[str, Path]) -> str:
    """Every construct that makes WeasyPrint fetch a URL, aimed at files and the listener."""
    nested_svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="40" height="40"><image xlink:href="file://{files["image"]}" width="40" '
        f'height="40"/><image href="{listener.origin}/nested-svg.png" width="40" height="40"/>'
        "</svg>"
    )
    nested = base64.b64encode(nested_svg.encode()).decode()
    o = listener.origin
    return f"""<!doctype html><html><head>
<link rel="attachment" href="file://{files["secret"]}" title="local secret">
<link rel="attachment" href="{o}/attachment.txt" title="remote">
<link rel="stylesheet" href="{o}/linked.css">
<style>
@import url("{o}/imported.css");
@import url("file://{files["css"]}");
@font-face {{ font-family: LeakLocal; src: url("file://{files["font"]}"); }}
@font-face {{ font-family: LeakRemote; src: url("{o}/font.ttf"); }}
p.local {{ font-family: LeakLocal; }}
p.remote {{ font-family: LeakRemote; }}
div.bg {{ background-image: url("{o}/background.png"); width: 20px; height: 20px; }}
</style></head><body>
<p class="local">local font</p><p class="remote">remote font</p>
<img src="file://{files["image"]}" alt="local image">
<img src="{o}/image.png" alt="remote image">
<img src="{o}/static/redirect.png" alt="allowed-looking URL that redirects">
<svg xmlns="http://www.w3.org/2000/svg" width="60" height="60">
  <image href="file://{files["image"]}" width="30" height="30"/>
  <image href="{o}/inline-svg.png" width="30" height="30"/>
</svg>
<img src="data:image/svg+xml;base64,{nested}" alt="svg with nested images">
<div class="bg"></div>
</body></html>"""


def _pdf_facts(pdf: bytes) -> dict[str, object]:
    reader = PdfReader(BytesIO(pdf))
    fonts: set[str] = set()
    images = 0
    for page in reader.pages:
        images += len(page.images)
        resources = page["/Resources"].get_object()
        for font in resources.get("/Font", {}).get_object().values():
            fonts.add(str(font.get_object().get("/BaseFont", "")))
    return {"attachments": dict(reader.attachments), "images": images, "fonts": fonts}


def _render(html: str, fetcher: URLFetcher) -> bytes:
    return HTML(string=html, base_url=PDF_ASSET_ORIGIN + "/", url_fetcher=fetcher).write_pdf()


@pytest.fixture
def static_on_listener(listener: Listener) -> Iterator[None]:
    # A deployment whose STATIC_URL is absolute (a CDN): its URLs look
    # "allowed", and here the CDN answers with a redirect.
    with override_settings(STATIC_URL=f"{listener.origin}/static/"):
        yield


def test_default_fetcher_leaks_every_construct(
    listener: Listener, local_files: dict[str, Path], static_on_listener: None, monkeypatch
) -> None:
    """The control: the same HTML really does leak with WeasyPrint's own fetcher."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)

    facts = _pdf_facts(_render(hostile_html(listener, local_files), URLFetcher(timeout=5)))

    assert {"/attachment.txt", "/linked.css", "/imported.css", "/font.ttf"} <= set(
        listener.requests
    )
    assert {"/image.png", "/static/redirect.png", "/landed.png"} <= set(listener.requests)
    assert "/inline-svg.png" in listener.requests
    attachments = facts["attachments"]
    assert any(
        local_files["secret"].read_bytes() in bytes(b"".join(contents))
        for contents in attachments.values()
    )
    assert facts["images"] >= 2
    # WeasyPrint names an @font-face font after its CSS family.
    assert any("LeakLocal" in font for font in facts["fonts"])


def test_safe_fetcher_reads_no_file_and_reaches_no_address(
    listener: Listener, local_files: dict[str, Path], static_on_listener: None
) -> None:
    fetcher = SafeURLFetcher()

    facts = _pdf_facts(_render(hostile_html(listener, local_files), fetcher))

    assert listener.requests == []
    assert facts["attachments"] == {}
    assert facts["images"] == 0
    assert facts["fonts"] and not any("Leak" in font for font in facts["fonts"])
    refused = set(fetcher.refused)
    for url in (
        f"file://{local_files['secret']}",
        f"file://{local_files['image']}",
        f"file://{local_files['font']}",
        f"file://{local_files['css']}",
        f"{listener.origin}/attachment.txt",
        f"{listener.origin}/image.png",
        f"{listener.origin}/static/redirect.png",
        f"{listener.origin}/imported.css",
        f"{listener.origin}/font.ttf",
        f"{listener.origin}/inline-svg.png",
    ):
        assert url in refused, url
    # The only thing served is the data: SVG, whose own nested images were refused.
    assert [url[:5] for url in fetcher.served] == ["data:"]


def test_safe_fetcher_serves_static_files_from_the_finders_not_the_network(
    listener: Listener, static_on_listener: None
) -> None:
    fetcher = SafeURLFetcher()

    css = fetcher(f"{listener.origin}/static/css/reports-pdf.css")
    own = fetcher(asset_url("css/reports-pdf.css"))

    assert b"@page" in css.read()
    assert b"@page" in own.read()
    assert css.content_type == "text/css"
    assert listener.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/hostname",
        "https://pdf-assets.invalid/static/../cloudexpress/settings.py",
        "https://pdf-assets.invalid/static/%2e%2e/manage.py",
        "https://pdf-assets.invalid/elsewhere/portal.css",
        "https://pdf-assets.invalid/static/no-such-file.css",
        "ftp://127.0.0.1/x",
        "http://localhost/static/css/reports-pdf.css",
    ],
)
def test_safe_fetcher_refuses(url: str) -> None:
    fetcher = SafeURLFetcher()
    with pytest.raises(ValueError):
        fetcher(url)
    assert fetcher.refused == [url]


@pytest.mark.django_db
def test_user_text_in_a_pack_is_text_and_fetches_nothing(
    listener: Listener, local_files: dict[str, Path]
) -> None:
    """HTML in a control description or an evidence title is shown as text."""
    payload = hostile_html(listener, local_files) + "<b>bold-marker</b>"
    data = sample_report_data(controls=3, description=payload, evidence_title=payload)

    rendered = pack_render(data, ReportPack.Kind.CONTROL_STATUS)

    assert listener.requests == []
    assert rendered.fetcher.refused == []
    # The control status pack has no chart: its stylesheet is all it fetches.
    assert rendered.fetcher.served == [asset_url("css/reports-pdf.css")]
    text = "".join(page.extract_text() for page in PdfReader(BytesIO(rendered.pdf)).pages)
    squeezed = "".join(text.split())  # long text wraps anywhere
    assert "<b>bold-marker</b>" in squeezed
    assert '<linkrel="attachment"' in squeezed
    assert "<imgsrc=" in squeezed
    facts = _pdf_facts(rendered.pdf)
    assert facts["attachments"] == {}
    assert facts["images"] == 0
