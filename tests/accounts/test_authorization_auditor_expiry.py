"""Auditor access is time-boxed and read-only; on expiry it ends on the
next request."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import SecurityEvent
from tests.accounts.access_helpers import member, organization

pytestmark = pytest.mark.django_db


def test_auditor_access_ends_on_the_next_request_after_expiry() -> None:
    org = organization()
    member(org, "owner")
    start = timezone.now()
    # An engagement that ends within the session's lifetime, so the session
    # itself is still valid when the membership expires.
    ends = start + timedelta(minutes=10)
    auditor = member(org, "auditor", expires_at=ends).user
    client = Client()
    client.force_login(auditor)

    with time_machine.travel(ends - timedelta(seconds=1), tick=False):
        assert client.get(f"/orgs/{org.slug}/members").status_code == 200
        assert client.get(f"/api/orgs/{org.slug}/members").status_code == 200
    with time_machine.travel(ends + timedelta(seconds=1), tick=False):
        assert client.get(f"/orgs/{org.slug}/members").status_code == 404
        assert client.get(f"/api/orgs/{org.slug}/members").status_code == 404
    assert SecurityEvent.objects.filter(
        event_type="access.permission_denied", actor=auditor
    ).exists()


def test_auditor_reads_but_cannot_write() -> None:
    org = organization()
    member(org, "owner")
    target = member(org)
    auditor = member(org, "auditor", expires_at=timezone.now() + timedelta(days=10)).user
    client = APIClient()
    client.force_authenticate(auditor)
    assert client.get(f"/api/orgs/{org.slug}/members").status_code == 200
    assert client.get(f"/api/orgs/{org.slug}/roles").status_code == 200
    response = client.post(
        f"/api/orgs/{org.slug}/members/{target.public_id}/remove",
        {"reason": "try"},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    response = client.post(
        f"/api/orgs/{org.slug}/roles", {"name": "x", "permissions": []}, format="json"
    )
    assert response.status_code == 403


def test_expiry_job_marks_expired_memberships_once() -> None:
    from accounts.models import Membership
    from accounts.tasks import access_expire_task

    org = organization()
    member(org, "owner")
    start = timezone.now()
    auditor = member(org, "auditor", expires_at=start + timedelta(hours=1))
    with time_machine.travel(start + timedelta(minutes=59), tick=False):
        assert access_expire_task.apply().get() == {"memberships": 0, "invitations": 0}
    with time_machine.travel(start + timedelta(hours=2), tick=False):
        assert access_expire_task.apply().get()["memberships"] == 1
        assert access_expire_task.apply().get()["memberships"] == 0
    auditor.refresh_from_db()
    assert auditor.status == Membership.Status.EXPIRED
    assert (
        SecurityEvent.objects.filter(
            event_type="role.revoked", target_user=auditor.user, detail__reason="expired"
        ).count()
        == 1
    )
