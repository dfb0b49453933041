"""Production log lines are JSON with the request id and no secrets."""

from __future__ import annotations

import json
import logging

from cloudexpress import requestcontext
from cloudexpress.logging import JsonFormatter, RequestContextFilter


def _format(**extra: object) -> dict:
    record = logging.LogRecord("portal.test", logging.INFO, __file__, 1, "job.done", None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    RequestContextFilter().filter(record)
    return json.loads(JsonFormatter().format(record))


def test_json_line_carries_event_and_request_id() -> None:
    context = requestcontext.RequestContext("req-12345678", "203.0.113.1", "ua")
    with requestcontext.bind(context):
        line = _format(rows=3)
    assert line["event"] == "job.done"
    assert line["request_id"] == "req-12345678"
    assert line["rows"] == 3


def test_secrets_and_personal_values_are_redacted() -> None:
    line = _format(
        password="hunter2-secret",
        api_token="tok_abc",
        totp_seed="JBSWY3DP",
        email="alice@example.test",
        ip="203.0.113.9",
        user_id=42,
    )
    text = json.dumps(line)
    for secret in ("hunter2-secret", "tok_abc", "JBSWY3DP", "alice@example.test", "203.0.113.9"):
        assert secret not in text
    assert line["user_id"] == 42
