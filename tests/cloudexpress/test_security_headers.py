"""Every hardening header on a page and on an API response."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db

EXPECTED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _assert_hardened(response) -> None:
    for header, value in EXPECTED.items():
        assert response[header] == value, header
    assert "camera=()" in response["Permissions-Policy"]
    policy = response["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ):
        assert directive in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


@pytest.mark.parametrize("path", ["/", "/contacts/", "/accounts/login/", "/api/docs/"])
def test_pages_carry_every_header(client: Client, path: str) -> None:
    _assert_hardened(client.get(path))


def test_api_response_carries_every_header_and_no_store(client: Client) -> None:
    response = client.get("/api/me")
    assert response.status_code == 401
    _assert_hardened(response)
    assert response["Cache-Control"] == "no-store"


@override_settings(
    SECURE_HSTS_SECONDS=63072000,
    SECURE_HSTS_INCLUDE_SUBDOMAINS=True,
    SECURE_HSTS_PRELOAD=True,
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
)
def test_hsts_is_sent_over_https(client: Client) -> None:
    response = client.get("/", HTTP_X_FORWARDED_PROTO="https")
    assert response["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains; preload"


def test_session_and_csrf_cookies_are_httponly_and_samesite(client: Client) -> None:
    response = client.get("/accounts/login/")
    cookie = response.cookies["csrftoken"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


def test_oversized_request_body_is_refused_with_413(client: Client) -> None:
    small = client.post(
        "/__test__/api/validate", {"name": "ok", "count": 1}, content_type="application/json"
    )
    assert small.status_code == 200
    body = '{"name": "' + "a" * (3 * 1024 * 1024) + '", "count": 1}'
    response = client.post("/__test__/api/validate", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
