"""The members page and API run the same number of queries for 10 and for
500 members, with every row rendered."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import Membership, Organization, User
from tests.accounts.access_helpers import builtin, member, organization

pytestmark = pytest.mark.django_db


def populate(org: Organization, count: int, inviter: User) -> None:
    """Add members in bulk: hashing 500 passwords would only slow the test."""
    users = User.objects.bulk_create(
        User(email=f"{org.slug}-{n}@example.test", full_name=f"Person {n}", password="!")
        for n in range(count)
    )
    roles = [builtin("member"), builtin("admin")]
    Membership.objects.bulk_create(
        Membership(user=u, organization=org, role=roles[n % 2], invited_by=inviter)
        for n, u in enumerate(users)
    )


def page_queries(client: Client, org: Organization, expected_rows: int) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/orgs/{org.slug}/members")
    assert response.status_code == 200
    assert response.content.decode().count('class="member-row"') == expected_rows
    return len(queries)


def api_queries(client: APIClient, org: Organization, expected_rows: int) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/api/orgs/{org.slug}/members")
    assert response.status_code == 200
    assert len(response.json()) == expected_rows
    return len(queries)


def test_members_page_query_count_is_the_same_for_10_and_500_members() -> None:
    small, large = organization(), organization()
    owner = member(small, "owner").user
    member(large, "owner", user=owner)
    populate(small, 9, owner)  # 10 with the owner
    populate(large, 499, owner)  # 500 with the owner

    client = Client()
    client.force_login(owner)
    page_queries(client, small, 10)  # warm the content-type and session caches
    small_count = page_queries(client, small, 10)
    large_count = page_queries(client, large, 500)
    assert small_count == large_count
    # Session, user, the session's verified TOTP device (an owner must use
    # MFA; django-otp loads the device on every request), the access snapshot
    # (memberships with the role graph's token; the graph itself is kept in
    # memory since the warm-up), organization, rows, assignable roles: 7.
    assert small_count == 7, small_count

    api = APIClient()
    api.force_authenticate(owner)
    # Warm up as the page was: the first API call of the day in each
    # organization also makes its quota and usage counter rows.
    api_queries(api, small, 10)
    api_queries(api, large, 500)
    assert api_queries(api, small, 10) == api_queries(api, large, 500)
