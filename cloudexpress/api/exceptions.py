"""Every API error as JSON: ``{"code": ..., "detail": ..., "fields": {...}}``.

Codes are stable strings that clients may branch on; ``detail`` is for
people and may change.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)

STATUS_CODES: dict[int, str] = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
}


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than this endpoint accepts."
    default_code = "payload_too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class ServiceError(exceptions.APIException):
    """A refusal raised by a service, with its own stable code."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, detail: str, *, code: str, status_code: int = 400) -> None:
        super().__init__(detail=detail, code=code)
        self.status_code = status_code


def error_body(code: str, detail: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "detail": detail, "fields": fields or {}}


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, list):
        return [str(item) for item in detail]
    if isinstance(detail, dict):
        return [f"{key}: {value}" for key, value in detail.items()]
    return [str(detail)]


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent):
        exc = PayloadTooLarge()
    elif isinstance(exc, RecursionError):
        # Deeply nested JSON exhausts the parser's recursion: bad input.
        exc = exceptions.ParseError("The JSON body is nested too deeply.")
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        logger.error("api.unhandled_error", exc_info=exc)
        return Response(
            error_body("server_error", "The server could not complete the request."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    fields: dict[str, Any] = {}
    assert isinstance(exc, exceptions.APIException)
    if isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, dict):
        fields = {key: _flatten(value) for key, value in exc.detail.items()}
        non_field = fields.pop("non_field_errors", None)
        detail = "; ".join(non_field) if non_field else "The request has invalid fields."
        code = "invalid"
    else:
        detail = "; ".join(_flatten(exc.detail)) if exc.detail else str(exc)
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else STATUS_CODES.get(response.status_code, "error")
        if response.status_code == 400 and code in {"invalid", "parse_error"}:
            code = "parse_error" if isinstance(exc, exceptions.ParseError) else code
    response.data = error_body(code, detail, fields)
    return response


def json_error(request: HttpRequest, status_code: int, detail: str) -> JsonResponse:
    code = STATUS_CODES.get(status_code, "error")
    return JsonResponse(error_body(code, detail), status=status_code)
