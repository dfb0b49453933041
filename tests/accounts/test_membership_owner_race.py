"""Two owners removing each other at the same moment, on two PostgreSQL
connections: exactly one removal succeeds and one Owner remains."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from accounts.models import Membership, Role
from accounts.services import membership_end, memberships, termination
from cloudexpress.api.exceptions import ServiceError
from tests.accounts.access_helpers import member, organization


@pytest.mark.django_db(transaction=True)
def test_concurrent_removal_of_both_owners_keeps_one(monkeypatch) -> None:
    org = organization()
    first = member(org, "owner")
    second = member(org, "owner")
    start = threading.Barrier(2)
    # Hold each transaction open just after its guard passed, until the other
    # got there too. With the organization lock the second guard cannot pass
    # while the first transaction is open, so this wait times out and the
    # first commits; without the lock both would pass and both remove.
    passed_guard = threading.Barrier(2)
    real_guard = memberships.owner_guard

    def guard_then_wait(organization, leaving) -> None:
        real_guard(organization, leaving)
        try:
            passed_guard.wait(timeout=2)
        except threading.BrokenBarrierError:
            pass

    monkeypatch.setattr(termination, "owner_guard", guard_then_wait)
    outcomes: list[str] = []
    lock = threading.Lock()

    def remove(membership: Membership) -> None:
        try:
            start.wait(timeout=10)
            membership_end(membership=membership, by=None, reason="race")
            result = "removed"
        except ServiceError as exc:
            result = str(exc.get_codes())
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=remove, args=(m,)) for m in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["last_owner", "removed"]
    assert (
        Membership.objects.filter(
            organization=org, status=Membership.Status.ACTIVE, role__kind=Role.Kind.OWNER
        ).count()
        == 1
    )
