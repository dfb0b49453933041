"""Log formatting: JSON lines in production, request id on every record."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from cloudexpress import requestcontext

# Keys whose values never reach a log line, wherever they appear in `extra`.
_SECRET_KEYS = re.compile(
    r"(pass(word)?|secret|token|key|otp|totp|seed|authorization|cookie|session|email|ip)",
    re.IGNORECASE,
)
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "request_id",
}


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = requestcontext.current_request_id() or "-"
        return True


def redact(key: str, value: object) -> object:
    """Return ``value`` unless its key names a secret or a personal value."""
    if _SECRET_KEYS.search(key) and not key.endswith("_id"):
        return "[redacted]"
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                payload[key] = redact(key, value)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)
