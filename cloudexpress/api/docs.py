"""A documentation page for API consumers, rendered on the server from the
OpenAPI schema so it needs no third-party script under the strict CSP."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View
from drf_spectacular.generators import SchemaGenerator

from cloudexpress.api.exceptions import STATUS_CODES

_METHODS = ("get", "post", "put", "patch", "delete")


def _operations(schema: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    for path, item in sorted(schema.get("paths", {}).items()):
        for method in _METHODS:
            operation = item.get(method)
            if operation:
                rows.append(
                    {
                        "method": method.upper(),
                        "path": path,
                        "summary": operation.get("summary") or operation.get("description", ""),
                        "operation_id": operation.get("operationId", ""),
                    }
                )
    return rows


class ApiDocsView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        schema = SchemaGenerator().get_schema(request=None, public=True)
        context = {
            "operations": _operations(schema),
            "error_codes": sorted(STATUS_CODES.items()),
            "version": schema.get("info", {}).get("version", ""),
        }
        return render(request, "api/docs.html", context)
