"""Fixtures of the audit tests: people who may and may not read the trail,
and a way to write chained rows with a known request context."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

from accounts.models import Membership, Organization
from cloudexpress import requestcontext
from tests import factories


@pytest.fixture
def operator(db: None) -> Organization:
    return factories.OrganizationFactory(is_operator=True, slug="cloudexpress")


@pytest.fixture
def staff(operator: Organization) -> factories.User:
    """The operator's own admin: platform-wide data is reached through a role
    in the operator organization, never through the staff flag."""
    user = factories.UserFactory()
    Membership.objects.create(
        user=user, organization=operator, role=factories.builtin_role("admin")
    )
    return user


@pytest.fixture
def auditor(operator: Organization) -> factories.User:
    user = factories.UserFactory()
    Membership.objects.create(
        user=user, organization=operator, role=factories.builtin_role("auditor")
    )
    return user


@pytest.fixture
def staff_client(staff: factories.User) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def context(db: None) -> Iterator[requestcontext.RequestContext]:
    """A request context as the middleware binds it, for direct service calls."""
    bound = requestcontext.RequestContext(
        request_id="req-test-0001",
        ip="198.51.100.7",
        user_agent="pytest-agent",
        actor_id=factories.UserFactory().pk,
    )
    with requestcontext.bind(bound) as value:
        yield value


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: object) -> None:
    # Passwords play no part in these tests; Argon2 would make each user
    # cost a noticeable share of a second on a shared machine.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]
