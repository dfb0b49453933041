"""The compliance page, run_checks and the status API show one score."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from compliance.models import ControlScore, Run
from compliance.scoring import FORMULA_SUMMARY
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo() -> None:
    call_command("seed_demo", stdout=StringIO())


def signed_in(email: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(email=email))
    return client


def test_page_command_and_api_agree_on_the_demo_score(demo: None) -> None:
    out = StringIO()
    call_command("run_checks", stdout=out)
    printed = re.search(r"compliance score (\d+\.\d%)", out.getvalue())
    assert printed, out.getvalue()
    run = Run.objects.get()

    officer = signed_in("officer@cloudexpress.test")
    page = officer.get("/compliance/").content.decode()
    on_page = re.search(r'id="compliance-score">([^<]+)<', page)
    api = officer.get("/api/compliance/soc2/status").json()

    assert printed.group(1) == on_page.group(1) == api["score_display"]
    assert api["score_percent"] == round(run.score * 100, 1)
    # The demo data leaves gaps: at least one control fails.
    assert ControlScore.objects.filter(run=run, status="fail").exists()


def test_page_shows_formula_coverage_categories_criteria_and_controls(demo: None) -> None:
    call_command("run_checks", "--quiet", stdout=StringIO())
    page = signed_in("member@cloudexpress.test").get("/compliance/").content.decode()
    assert FORMULA_SUMMARY.split(".")[0] in page.replace("&#x27;", "'")
    for text in (
        "Coverage of controls",
        "Security (common criteria)",
        "Privacy",
        "CC6.1",
        "PI1.5",
        "CX-ACC-03",
        "CC5.3 Termination",
        "Not applicable, and why",
    ):
        assert text in page, text
    # Strict CSP: no inline script or style.
    assert "<script" not in page and "style=" not in page and "<style" not in page
    assert 'href="/compliance/"' in page


def test_page_refuses_customers_and_asks_strangers_to_sign_in(demo: None) -> None:
    call_command("run_checks", "--quiet", stdout=StringIO())
    assert signed_in("officer@cloudexpress.test").get("/compliance/").status_code == 200
    assert signed_in("nurse@acme-health.test").get("/compliance/").status_code == 403
    response = Client().get("/compliance/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_page_runs_a_fixed_number_of_queries(demo: None) -> None:
    call_command("run_checks", "--quiet", stdout=StringIO())
    client = signed_in("officer@cloudexpress.test")
    with CaptureQueriesContext(connection) as first:
        assert client.get("/compliance/").status_code == 200
    for _ in range(10):
        MembershipFactory()
    call_command("run_checks", "--quiet", stdout=StringIO())
    with CaptureQueriesContext(connection) as second:
        client.get("/compliance/")
    assert len(first) == len(second)


def test_page_before_any_run_says_so(demo: None, client: Any) -> None:
    page = signed_in("officer@cloudexpress.test").get("/compliance/").content.decode()
    assert "No compliance run has completed yet" in page
