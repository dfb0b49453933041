from __future__ import annotations

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


@override_settings(METRICS_TOKEN="metrics-token-for-tests", METRICS_ALLOWED_NETWORKS=[])
def test_metrics_refused_without_token_and_served_with_it(client: Client) -> None:
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-token-for-tests")
    assert response.status_code == 200
    assert b"django_http_requests" in response.content


@override_settings(METRICS_TOKEN="", METRICS_ALLOWED_NETWORKS=["10.1.0.0/16"])
def test_metrics_served_to_an_allowed_network_only(client: Client) -> None:
    assert client.get("/metrics", REMOTE_ADDR="10.2.0.5").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.1.4.5").status_code == 200


def test_healthz(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reaches_database_cache_and_broker(client: Client) -> None:
    response = client.get("/readyz")
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "broker": "ok"}
    assert response.status_code == 200


def test_request_id_is_accepted_or_made(client: Client) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abcdef12-3456")
    assert response["X-Request-ID"] == "abcdef12-3456"
    made = client.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces")["X-Request-ID"]
    assert made != "bad id with spaces" and len(made) == 32


def test_home_and_contacts_render_under_strict_csp(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    contacts = client.get("/contacts/").content.decode()
    assert "compliance@cloudexpress.test" in contacts
    assert "dpo@cloudexpress.test" in contacts
