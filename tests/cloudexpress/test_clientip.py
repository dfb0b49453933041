"""The client-IP function believes only what the trusted proxies wrote."""

from __future__ import annotations

import pytest
from django.test import RequestFactory, override_settings

from cloudexpress.clientip import client_ip


def _request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@override_settings(TRUSTED_PROXY_COUNT=0)
def test_without_proxies_the_header_is_ignored() -> None:
    assert client_ip(_request("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


@override_settings(TRUSTED_PROXY_COUNT=1)
@pytest.mark.parametrize(
    "forged",
    ["", "1.2.3.4", "1.2.3.4, 5.6.7.8", "evil, 10.0.0.1, 9.9.9.9", "not-an-ip", "::1, 127.0.0.1"],
)
def test_one_proxy_forged_entries_never_change_the_result(forged: str) -> None:
    # The proxy appends the address it saw (198.51.100.7) to whatever the
    # client sent; REMOTE_ADDR is the proxy itself.
    header = f"{forged}, 198.51.100.7" if forged else "198.51.100.7"
    assert client_ip(_request("10.0.0.2", header)) == "198.51.100.7"


@override_settings(TRUSTED_PROXY_COUNT=2)
def test_two_proxies_take_the_second_from_the_right() -> None:
    request = _request("10.0.0.3", "6.6.6.6, 198.51.100.7, 10.0.0.2")
    assert client_ip(request) == "198.51.100.7"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_ipv6_and_ports_are_normalised() -> None:
    assert client_ip(_request("10.0.0.2", "[2001:db8::1]:443")) == "2001:db8::1"
    assert client_ip(_request("10.0.0.2", "198.51.100.7:5000")) == "198.51.100.7"
    assert client_ip(_request("::ffff:198.51.100.8")) == "198.51.100.8"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_garbage_in_the_trusted_slot_falls_back_to_the_peer() -> None:
    assert client_ip(_request("10.0.0.2", "1.1.1.1, garbage")) == "10.0.0.2"
