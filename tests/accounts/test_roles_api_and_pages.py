"""Roles, members and approvals through the API and pages: inheritance shown
explicitly, refusals as JSON with stable codes, four-eyes end to end."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Membership, Role
from cloudexpress.beat import BEAT_SCHEDULE
from tests.accounts.access_helpers import builtin, member, organization

pytestmark = pytest.mark.django_db


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_roles_api_shows_each_inherited_permission_with_its_source() -> None:
    org = organization()
    admin = member(org, "admin").user
    roles = {row["name"]: row for row in api_as(admin).get(f"/api/orgs/{org.slug}/roles").json()}
    assert roles["Owner"]["inherits"] == ["Owner", "Admin", "Member"]
    lines = {line["code"]: line for line in roles["Owner"]["permissions"]}
    assert lines["org.delete"] == {
        "code": "org.delete",
        "description": "Delete the organization",
        "source": "Owner",
        "inherited": False,
    }
    assert lines["members.invite"]["source"] == "Admin"
    assert lines["org.view"]["source"] == "Member"
    assert lines["org.view"]["inherited"] is True


def test_roles_page_shows_inheritance() -> None:
    org = organization()
    owner = member(org, "owner").user
    client = Client()
    client.force_login(owner)
    page = client.get(f"/orgs/{org.slug}/roles").content.decode()
    assert "Inherits: Owner &rarr; Admin &rarr; Member" in page
    assert "inherited from Member" in page


def test_role_api_create_refusal_and_delete_in_use() -> None:
    org = organization()
    admin = member(org, "admin").user
    client = api_as(admin)
    refused = client.post(
        f"/api/orgs/{org.slug}/roles",
        {"name": "Deleter", "permissions": ["org.delete"]},
        format="json",
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_not_held"

    created = client.post(
        f"/api/orgs/{org.slug}/roles",
        {
            "name": "Clerk",
            "permissions": ["evidence.upload"],
            "parent": str(builtin("member").public_id),
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    role_id = created.json()["id"]
    assert created.json()["inherits"] == ["Clerk", "Member"]
    member(org, role=Role.objects.get(public_id=role_id))

    in_use = client.delete(f"/api/orgs/{org.slug}/roles/{role_id}")
    assert in_use.status_code == 409
    assert in_use.json()["code"] == "role_in_use"
    moved = client.delete(
        f"/api/orgs/{org.slug}/roles/{role_id}?reassign_to={builtin('member').public_id}"
    )
    assert moved.status_code == 204
    assert not Role.objects.filter(public_id=role_id).exists()


def test_four_eyes_through_the_api() -> None:
    org = organization()
    requester = member(org, "owner").user
    approver = member(org, "owner").user
    target = member(org)
    response = api_as(requester).patch(
        f"/api/orgs/{org.slug}/members/{target.public_id}",
        {"role": str(builtin("admin").public_id)},
        format="json",
    )
    assert response.status_code == 202, response.content
    approval_id = response.json()["id"]

    own = api_as(requester).post(f"/api/orgs/{org.slug}/approvals/{approval_id}/approve")
    assert own.status_code == 403
    assert own.json()["code"] == "self_approval"

    approved = api_as(approver).post(
        f"/api/orgs/{org.slug}/approvals/{approval_id}/approve", {"note": "ok"}, format="json"
    )
    assert approved.status_code == 200
    assert approved.json()["status"] == "executed"
    target.refresh_from_db()
    assert target.role.kind == Role.Kind.ADMIN


def test_last_owner_refusal_is_json_with_a_stable_code() -> None:
    org = organization()
    owner = member(org, "owner")
    response = api_as(owner.user).post(
        f"/api/orgs/{org.slug}/members/{owner.public_id}/remove",
        {"reason": "leaving"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "last_owner"
    assert Membership.objects.get(pk=owner.pk).status == Membership.Status.ACTIVE


def test_non_member_gets_404_and_a_recorded_denial() -> None:
    from audit.models import SecurityEvent

    org, other = organization(), organization()
    outsider = member(other, "owner").user
    response = api_as(outsider).get(f"/api/orgs/{org.slug}/members")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    client = Client()
    client.force_login(outsider)
    assert client.get(f"/orgs/{org.slug}/members").status_code == 404
    assert SecurityEvent.objects.filter(
        event_type="access.permission_denied", actor=outsider, organization=org
    ).exists()


def test_members_page_refusal_is_shown_beside_the_form() -> None:
    org = organization()
    owner = member(org, "owner")
    client = Client()
    client.force_login(owner.user)
    response = client.post(
        f"/orgs/{org.slug}/members/{owner.public_id}/remove", {"reason": "bye"}, follow=True
    )
    assert response.status_code == 200
    assert "at least one active Owner" in response.content.decode()


def test_plain_member_cannot_post_member_changes() -> None:
    org = organization()
    member(org, "owner")
    plain = member(org)
    client = Client()
    client.force_login(plain.user)
    response = client.post(
        f"/orgs/{org.slug}/members/{plain.public_id}/role",
        {"role": str(builtin("admin").public_id)},
    )
    assert response.status_code == 403


def test_beat_runs_the_access_review_start_daily() -> None:
    assert BEAT_SCHEDULE["access-review-start"]["task"] == "accounts.access_review_start"
    assert BEAT_SCHEDULE["access-review-remind"]["task"] == "accounts.access_review_remind"
