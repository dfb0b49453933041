"""Every API error is JSON with a stable code, for each status the API uses."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "detail", "fields"}
    assert body["code"] == code
    assert body["detail"]
    return body


def test_400_names_each_invalid_field(api_client: APIClient) -> None:
    response = api_client.post(
        "/__test__/api/validate", {"name": "far too long a name", "count": 0}, format="json"
    )
    body = assert_error(response, 400, "invalid")
    assert set(body["fields"]) == {"name", "count"}


def test_400_for_malformed_json(api_client: APIClient) -> None:
    response = api_client.post(
        "/__test__/api/validate", "{not json", content_type="application/json"
    )
    assert_error(response, 400, "parse_error")


def test_401_without_credentials(api_client: APIClient) -> None:
    assert_error(api_client.get("/api/me"), 401, "not_authenticated")


def test_403_for_a_permission_refusal(api_client: APIClient, user) -> None:
    from rest_framework.exceptions import PermissionDenied

    from cloudexpress.api.exceptions import api_exception_handler

    response = api_exception_handler(PermissionDenied(), {})
    assert response is not None
    assert response.status_code == 403
    assert response.data["code"] == "permission_denied"


def test_404_for_unknown_api_path_is_json(api_client: APIClient) -> None:
    assert_error(api_client.get("/api/no/such/thing"), 404, "not_found")


def test_405_for_a_wrong_method(api_client: APIClient, user) -> None:
    api_client.force_authenticate(user)
    assert_error(api_client.delete("/api/me"), 405, "method_not_allowed")


def test_409_conflict(api_client: APIClient) -> None:
    assert_error(api_client.get("/__test__/api/conflict"), 409, "conflict")


def test_429_carries_retry_after(api_client: APIClient) -> None:
    response = api_client.get("/__test__/api/throttled")
    assert_error(response, 429, "throttled")
    assert response["Retry-After"] == "17"


def test_500_is_json_and_hides_the_exception(api_client: APIClient) -> None:
    response = api_client.get("/__test__/api/boom")
    body = assert_error(response, 500, "server_error")
    assert "planted" not in body["detail"]


def test_api_paths_never_redirect_for_slashes(api_client: APIClient, user) -> None:
    api_client.force_authenticate(user)
    assert api_client.get("/api/me").status_code == 200
    response = api_client.get("/api/me/")
    assert_error(response, 404, "not_found")
    response = api_client.delete("/api/me/")
    assert response.status_code == 404
