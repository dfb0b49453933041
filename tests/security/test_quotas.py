"""Per-organization daily API quota: calls work up to the quota, then 429."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from cloudexpress.quotas import quota_usage
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(api_client, settings):
    settings.ORG_API_DAILY_QUOTA = 3
    membership = factories.MembershipFactory()
    api_client.force_login(membership.user)
    return membership


@time_machine.travel(datetime(2026, 3, 10, 18, 0, tzinfo=UTC), tick=False)
def test_calls_work_up_to_the_quota_then_are_refused(api_client, member) -> None:
    slug = member.organization.slug
    # Org-named and org-less endpoints count against the same organization.
    assert api_client.get("/api/me").status_code == 200
    assert api_client.get(f"/api/orgs/{slug}/members").status_code == 200
    assert api_client.get("/api/me").status_code == 200
    assert quota_usage(member.organization_id) == 3

    refused = api_client.get(f"/api/orgs/{slug}/members")
    assert refused.status_code == 429
    assert refused.json()["code"] == "quota_exceeded"
    assert "today" in refused.json()["detail"]
    # Six hours to midnight UTC.
    assert refused["Retry-After"] == str(6 * 3600)
    assert api_client.get("/api/me").status_code == 429


def test_the_count_is_per_organization_and_per_day(api_client, member) -> None:
    with time_machine.travel(datetime(2026, 3, 10, 23, 0, tzinfo=UTC), tick=False):
        for _ in range(3):
            assert api_client.get("/api/me").status_code == 200
        assert api_client.get("/api/me").status_code == 429

        other = factories.MembershipFactory()
        api_client.force_login(other.user)
        assert api_client.get("/api/me").status_code == 200
        api_client.force_login(member.user)

    with time_machine.travel(datetime(2026, 3, 11, 0, 1, tzinfo=UTC), tick=False):
        # An hour has passed, longer than the idle timeout: the session ends
        # as it should, so the same member signs in again on the new day.
        api_client.force_login(member.user)
        assert api_client.get("/api/me").status_code == 200


def test_zero_turns_the_quota_off(api_client, member, settings) -> None:
    settings.ORG_API_DAILY_QUOTA = 0
    for _ in range(5):
        assert api_client.get("/api/me").status_code == 200
    assert quota_usage(member.organization_id) == 0
