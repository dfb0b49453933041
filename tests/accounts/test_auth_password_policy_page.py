"""The password-policy page: signed-in users see the active profile, its
rules and (for the default) the documented NIST deviation: the same facts as
the policy API, under the strict CSP."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client, override_settings

from tests.accounts.auth_support import sign_in_password, verified_user

pytestmark = pytest.mark.django_db

PAGE = "/accounts/security/password-policy/"
API = "/api/compliance/security/policy"


def _facts(body: str) -> dict[str, list[str]]:
    """Every ``data-fact`` element's text, by fact name, tags stripped."""
    found: dict[str, list[str]] = {}
    pattern = r'<(\w+)[^>]*data-fact="([\w.]+)"[^>]*>(.*?)</\1>'
    for _, name, inner in re.findall(pattern, body, flags=re.S):
        text = html.unescape(re.sub(r"<[^>]+>", "", inner)).strip()
        found.setdefault(name, []).append(text)
    return found


def _as_shown(api: dict) -> dict[str, list[str]]:
    """What the page must show for the API's answer."""
    shown = {
        "profile_name": [api["profile_name"]],
        "profile": [api["profile"]],
        "min_length": [str(api["min_length"])],
        "composition": [", ".join(api["composition"]) or "none"],
        "expiry_days": [str(api["expiry_days"]) if api["expiry_days"] else "none"],
        "history_count": [str(api["history_count"])],
        "hasher": [api["hasher"]],
        "lockout.failures": [str(api["lockout"]["failures"])],
        "lockout.per": [", ".join(api["lockout"]["per"])],
        "lockout.cool_off_seconds": [str(api["lockout"]["cool_off_seconds"])],
    }
    if api["deviations"]:
        shown["deviation.standard"] = [d["standard"] for d in api["deviations"]]
        shown["deviation.rules"] = [", ".join(d["rules"]) for d in api["deviations"]]
        shown["deviation.reason"] = [d["reason"] for d in api["deviations"]]
    return shown


def _signed_in() -> Client:
    client = Client()
    assert sign_in_password(client, verified_user().email).status_code == 302
    return client


def test_signed_out_visitors_are_sent_to_sign_in() -> None:
    response = Client().get(PAGE)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("profile", ["compliance", "nist"])
def test_the_page_shows_the_same_facts_as_the_policy_api(profile: str) -> None:
    client = _signed_in()
    with override_settings(PASSWORD_POLICY_PROFILE=profile):
        page = client.get(PAGE)
        api = client.get(API).json()
    assert page.status_code == 200
    facts = _facts(page.content.decode())
    for name, values in _as_shown(api).items():
        assert facts.get(name) == values, name
    if profile == "compliance":
        assert api["deviations"] and "NIST SP 800-63B-4" in facts["deviation.standard"]
        assert "no_deviation" not in facts
    else:
        assert "deviation.reason" not in facts and facts["no_deviation"]


def test_the_default_page_names_the_deviation_and_its_reason_in_words() -> None:
    body = _signed_in().get(PAGE).content.decode()
    assert "CloudExpress compliance document (default)" in body
    assert "periodic_expiry" in body
    assert "NIST SP 800-63B-4 (section 3.1.1.2)" in html.unescape(body)


def test_the_page_runs_under_the_strict_csp_and_is_linked_from_the_navigation() -> None:
    client = _signed_in()
    page = client.get(PAGE)
    policy = page["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    body = page.content.decode()
    assert "<script" not in body.split("<footer")[0].split("</header>")[1]
    assert " style=" not in body and "<style" not in body
    assert f'href="{PAGE}"' in client.get("/accounts/sessions/").content.decode()
    assert f'href="{PAGE}"' in body  # the navigation bar
