"""DRF renderers for reports.

DRF picks the renderer from ``?format=``; a view without a renderer whose
``format`` is ``pdf`` answers 404 to ``?format=pdf``. Add
:class:`PDFRenderer` to a view's ``renderer_classes`` and return the PDF bytes
(or a ReportData, rendered as the control status pack) in the Response.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import renderers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from compliance.reports.data import ReportData


class PDFRenderer(renderers.BaseRenderer):
    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if isinstance(data, bytes):
            return data
        if isinstance(data, ReportData):
            from compliance.models import ReportPack
            from compliance.reports.render import pack_render

            return pack_render(data, ReportPack.Kind.CONTROL_STATUS).pdf
        raise TypeError("PDFRenderer renders PDF bytes or a ReportData only")


class PDFErrorsAsJSONMixin(APIView):
    """Answer errors in JSON even when the client asked for the PDF.

    An error body is a dict, which the PDF renderer cannot draw; the JSON
    renderer is switched in before the response is finalised.
    """

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        request: Request = self.request
        if getattr(request, "accepted_renderer", None) is None or isinstance(
            request.accepted_renderer, PDFRenderer
        ):
            request.accepted_renderer = renderers.JSONRenderer()
            request.accepted_media_type = "application/json"
        return response
