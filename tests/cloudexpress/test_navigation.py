"""The main navigation shows each user the pages they may open, and only
those: every entry shown opens, every entry hidden would have answered 403,
and browsing the menu records no permission denial."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.models import SecurityEvent
from compliance.runs import checks_run
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory, builtin_role

pytestmark = pytest.mark.django_db

GATED = {
    "Compliance": "/compliance/",
    "Governance": "/governance/",
    "Audit trail": "/audit/",
    "Alerts": "/security/alerts/",
    "Reports": "/reports/",
    "Dashboard": "/dashboard/",
    "Evidence": "/evidence/",
    "Operations": "/operations/",
}
OPEN_TO_ALL = ("Home", "Organizations", "My data", "Sessions", "Password policy", "API")

SHOWN = {
    "member": {"Compliance", "Governance", "Dashboard"},
    "auditor": {
        "Compliance",
        "Governance",
        "Audit trail",
        "Alerts",
        "Reports",
        "Dashboard",
        "Evidence",
    },
    "admin": set(GATED),
    "customer member": set(),
    "customer owner": set(),
}


@pytest.fixture
def operator() -> Any:
    return OrganizationFactory(slug=settings.OPERATOR_ORGANIZATION_SLUG, is_operator=True)


def _client(organization: Any, kind: str) -> Client:
    user = UserFactory()
    MembershipFactory(user=user, organization=organization, role=builtin_role(kind))
    client = Client()
    client.force_login(user)
    return client


def _nav(html: str) -> dict[str, str]:
    nav = html[html.index('<nav class="mainnav"') :].split("</nav>")[0]
    return {label: href for href, label in re.findall(r'<a href="([^"]+)">([^<]+)</a>', nav)}


def _denials() -> int:
    return SecurityEvent.objects.filter(event_type="access.permission_denied").count()


@pytest.mark.parametrize("who", list(SHOWN))
def test_menu_shows_exactly_the_pages_the_user_may_open(operator: Any, who: str) -> None:
    checks_run()
    # A customer organization's owner holds every code there, and still
    # none of the operator's pages.
    customer, _, kind = who.rpartition(" ")
    client = _client(OrganizationFactory() if customer else operator, kind)
    before = _denials()

    nav = _nav(client.get("/").content.decode())

    assert {label for label in nav if label in GATED} == SHOWN[who]
    for label in OPEN_TO_ALL:
        assert label in nav, label
    for label in SHOWN[who]:
        assert nav[label] == GATED[label]
        response = client.get(nav[label], follow=True)
        assert response.status_code == 200, label
    assert _denials() == before
    # Each hidden entry is one the page itself refuses.
    for label in set(GATED) - SHOWN[who]:
        assert client.get(GATED[label], follow=True).status_code == 403, label


def test_visitors_see_only_the_public_entries() -> None:
    nav = _nav(Client().get("/").content.decode())
    assert set(nav) == {"Home", "API", "Contacts"}


def test_menu_adds_no_query_once_the_request_s_access_is_loaded(operator: Any) -> None:
    from cloudexpress import requestcontext
    from cloudexpress.navigation import nav_links_for

    admin = UserFactory()
    MembershipFactory(user=admin, organization=operator, role=builtin_role("admin"))
    context = requestcontext.RequestContext(
        request_id=requestcontext.new_request_id(), ip=None, user_agent="test"
    )
    with requestcontext.bind(context):
        nav_links_for(admin)
        with CaptureQueriesContext(connection) as captured:
            links = nav_links_for(admin)
    assert len(captured) == 0
    assert {link.label for link in links} >= set(GATED)
