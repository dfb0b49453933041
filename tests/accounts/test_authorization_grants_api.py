"""Resource-level grants through the API."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.authorization import user_has_perm
from accounts.models import Role, User
from tests.accounts.access_helpers import member, organization

pytestmark = pytest.mark.django_db


def test_grant_one_object_to_one_member_then_revoke() -> None:
    org = organization()
    owner = member(org, "owner").user
    clerk = member(org)
    folder = Role.objects.create(organization=org, name="Evidence folder")
    client = APIClient()
    client.force_authenticate(owner)

    assert not user_has_perm(User.objects.get(pk=clerk.user_id), "evidence.upload", obj=folder)
    created = client.post(
        f"/api/orgs/{org.slug}/grants",
        {
            "permission": "evidence.upload",
            "object_type": "accounts.role",
            "object_id": str(folder.pk),
            "member": str(clerk.public_id),
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert user_has_perm(User.objects.get(pk=clerk.user_id), "evidence.upload", obj=folder)

    assert client.delete(f"/api/orgs/{org.slug}/grants/{created.json()['id']}").status_code == 204
    assert not user_has_perm(User.objects.get(pk=clerk.user_id), "evidence.upload", obj=folder)


def test_object_of_another_organization_cannot_be_granted() -> None:
    org, other = organization(), organization()
    owner = member(org, "owner").user
    clerk = member(org)
    foreign = Role.objects.create(organization=other, name="Their folder")
    client = APIClient()
    client.force_authenticate(owner)
    response = client.post(
        f"/api/orgs/{org.slug}/grants",
        {
            "permission": "evidence.view",
            "object_type": "accounts.role",
            "object_id": str(foreign.pk),
            "member": str(clerk.public_id),
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "object_unknown"


def test_admin_cannot_grant_a_permission_they_lack_on_the_object() -> None:
    org = organization()
    admin = member(org, "admin").user
    clerk = member(org)
    folder = Role.objects.create(organization=org, name="Folder")
    client = APIClient()
    client.force_authenticate(admin)
    response = client.post(
        f"/api/orgs/{org.slug}/grants",
        {
            "permission": "org.delete",
            "object_type": "accounts.role",
            "object_id": str(folder.pk),
            "member": str(clerk.public_id),
        },
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_not_held"


@pytest.mark.parametrize("object_id", ["not-a-number", "9" * 30])
def test_an_id_that_cannot_be_the_objects_key_is_a_400_not_a_500(object_id: str) -> None:
    org = organization()
    owner = member(org, "owner").user
    clerk = member(org)
    folder = Role.objects.create(organization=org, name="Evidence folder")
    client = APIClient()
    client.force_authenticate(owner)

    def grant(object_id: str) -> object:
        return client.post(
            f"/api/orgs/{org.slug}/grants",
            {
                "permission": "evidence.upload",
                "object_type": "accounts.role",
                "object_id": object_id,
                "member": str(clerk.public_id),
            },
            format="json",
        )

    # The same request with a real key works; a key of the wrong shape is
    # an unknown object.
    assert grant(str(folder.pk)).status_code == 201
    response = grant(object_id)
    assert response.status_code == 400
    assert response.json()["code"] == "object_unknown"
