"""The only URL fetcher the PDF renderer may use.

WeasyPrint's default fetcher is a urllib opener: it follows redirects and
opens ``file:``, ``http(s):`` and ``ftp:`` URLs. A pack carries user text
(control descriptions, evidence titles), so the renderer must never be able
to read a local file or reach any address, whatever that text says.

This fetcher serves exactly two things:

* the portal's own static files, found through Django's staticfiles
  finders (never through the network, so a static URL cannot redirect);
* ``data:`` URLs, which carry their content inline (the charts).

Everything else is refused. WeasyPrint 70 calls ``fetcher(url)``, which
calls ``fetch(url, headers)``; it reads ``_fail_on_errors`` when a fetch
raises, and catches ordinary exceptions as a warning, so refusing is
raising ``ValueError``.
"""

from __future__ import annotations

import base64
import logging
import mimetypes
import posixpath
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from weasyprint.urls import URLFetcher, URLFetcherResponse

logger = logging.getLogger(__name__)

# The base URL the pack HTML is rendered with. ``.invalid`` never resolves
# (RFC 2606), and this fetcher never opens a connection anyway: the origin
# only lets templates write ``{% static %}`` URLs that resolve against it.
PDF_ASSET_ORIGIN = "https://pdf-assets.invalid"

# Nothing the packs use is larger; a bigger file is not ours to embed.
MAX_ASSET_BYTES = 8 * 1024 * 1024


class RefusedURL(ValueError):
    """A URL the PDF renderer is not allowed to fetch."""


class SafeURLFetcher(URLFetcher):
    """Serve static files through the finders and ``data:`` URLs, refuse the rest."""

    def __init__(self) -> None:
        # No handlers at all: the opener underneath must never be used. The
        # parent's constructor is still called for the attributes WeasyPrint
        # reads (``_fail_on_errors``), then its handlers are dropped.
        super().__init__(allow_redirects=False)
        self.handlers: list[object] = []
        self.handle_open: dict[str, list[object]] = {}
        self.handle_error: dict[str, dict[object, list[object]]] = {}
        self.process_response: dict[str, list[object]] = {}
        self.process_request: dict[str, list[object]] = {}
        self.served: list[str] = []
        self.refused: list[str] = []

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        try:
            if url.startswith("data:"):
                response = self._data(url)
            else:
                response = self._static(url)
        except RefusedURL:
            self.refused.append(url[:200])
            logger.warning("reports.fetch_refused", extra={"scheme": urlsplit(url).scheme})
            raise
        self.served.append(url[:200])
        return response

    def open(self, url: object, data: object = None, timeout: object = None) -> object:
        raise RefusedURL("the PDF fetcher does not open URLs")

    def _data(self, url: str) -> URLFetcherResponse:
        header, _, payload = url[len("data:") :].partition(",")
        if not _:
            raise RefusedURL("malformed data: URL")
        params = header.split(";")
        mime = params[0] or "text/plain"
        if params[-1] == "base64":
            body = base64.b64decode(unquote(payload), validate=False)
        else:
            body = unquote_to_bytes(payload)
        if len(body) > MAX_ASSET_BYTES:
            raise RefusedURL("data: URL too large")
        return URLFetcherResponse(url, body, _headers(mime))

    def _static(self, url: str) -> URLFetcherResponse:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        static = urlsplit(settings.STATIC_URL)
        # With an absolute STATIC_URL (a CDN), its URLs are mapped to the
        # finders as well: the file on disk is served, the CDN is never
        # asked, so it cannot redirect the renderer elsewhere.
        origins = {PDF_ASSET_ORIGIN}
        if static.scheme and static.netloc:
            origins.add(f"{static.scheme}://{static.netloc}")
        if origin not in origins or not parts.path.startswith(static.path):
            raise RefusedURL("only the portal's static files are served")
        static_prefix = static.path

        relative = unquote(parts.path[len(static_prefix) :])
        normal = posixpath.normpath(relative)
        if normal.startswith(("/", "..")) or "\\" in normal or "\x00" in normal:
            raise RefusedURL("static path escapes the static folders")

        found = finders.find(normal)
        if not found or isinstance(found, list):
            raise RefusedURL("no such static file")
        path = Path(found)
        if path.stat().st_size > MAX_ASSET_BYTES:
            raise RefusedURL("static file too large")
        mime = mimetypes.guess_type(normal)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), _headers(mime))


def _headers(mime: str) -> EmailMessage:
    headers = EmailMessage()
    headers["Content-Type"] = mime
    return headers


def asset_url(static_path: str) -> str:
    """Return the URL under which the fetcher serves a static file."""
    return PDF_ASSET_ORIGIN + urlsplit(settings.STATIC_URL).path + static_path
