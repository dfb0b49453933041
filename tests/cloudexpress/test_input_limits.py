"""Bad or oversized input gets a clear refusal, never a 500."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


def test_deeply_nested_json_is_a_parse_error_not_a_crash(client: Client) -> None:
    shallow = client.post(
        "/__test__/api/validate", {"name": "ok", "count": 1}, content_type="application/json"
    )
    assert shallow.status_code == 200
    body = "[" * 5000 + "]" * 5000
    response = client.post("/__test__/api/validate", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


@override_settings(MAX_UPLOAD_BYTES=1024 * 1024)
def test_an_upload_over_the_limit_is_refused_before_it_is_read(client: Client) -> None:
    small = client.post("/__test__/api/validate", {"name": "ok", "count": 1})
    assert small.status_code != 413
    payload = b"x" * (2 * 1024 * 1024)
    response = client.generic("POST", "/api/me", payload, content_type="application/octet-stream")
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    page = client.generic("POST", "/reports/verify/", payload, content_type="multipart/form-data")
    assert page.status_code == 413


def test_visitors_see_no_platform_figures(client: Client) -> None:
    page = client.get("/").content.decode()
    assert "Sign in" in page
    assert "figure-organizations" not in page
