"""Guards: nobody grants what they do not hold; an organization keeps an
Owner; a role in use is not deleted without reassigning its members."""

from __future__ import annotations

import pytest

from accounts.models import ApprovalRequest, Membership, Role
from accounts.services import (
    membership_remove,
    membership_role_change,
    role_create,
    role_delete,
    role_update,
    user_terminate,
)
from cloudexpress.api.exceptions import ServiceError
from tests.accounts.access_helpers import builtin, fresh, member, organization

pytestmark = pytest.mark.django_db


def refusal(code: str):
    class _Refusal:
        def __enter__(self):
            self.ctx = pytest.raises(ServiceError)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self.ctx.__exit__(*exc)
            assert self.info.value.get_codes() == code, self.info.value.detail
            return handled

    return _Refusal()


def test_admin_creates_a_role_with_permissions_they_hold() -> None:
    org = organization()
    admin = member(org, "admin").user
    role = role_create(
        organization=org, actor=admin, name="Reviewer", permission_codes=["evidence.view"]
    )
    assert {p.code for p in role.permissions.all()} == {"evidence.view"}


def test_custom_role_with_a_permission_not_held_is_refused() -> None:
    org = organization()
    admin = member(org, "admin").user
    with refusal("permission_not_held"):
        role_create(organization=org, actor=admin, name="Deleter", permission_codes=["org.delete"])
    assert not Role.objects.filter(organization=org, name="Deleter").exists()


def test_custom_role_inheriting_owner_is_refused_to_an_admin() -> None:
    org = organization()
    admin = member(org, "admin").user
    with refusal("permission_not_held"):
        role_create(
            organization=org,
            actor=admin,
            name="Shadow owner",
            permission_codes=[],
            parent=builtin("owner"),
        )


def test_role_update_cannot_add_a_permission_not_held() -> None:
    org = organization()
    admin = member(org, "admin").user
    role = role_create(organization=org, actor=admin, name="Clerk", permission_codes=[])
    role_update(role=role, actor=admin, permission_codes=["evidence.upload"])
    with refusal("permission_not_held"):
        role_update(role=role, actor=admin, permission_codes=["ownership.transfer"])


def test_role_update_refuses_a_cycle() -> None:
    org = organization()
    owner = member(org, "owner").user
    a = role_create(organization=org, actor=owner, name="A", permission_codes=[])
    b = role_create(organization=org, actor=owner, name="B", permission_codes=[], parent=a)
    with refusal("role_cycle"):
        role_update(role=a, actor=owner, parent=b)


def test_renaming_a_role_to_a_taken_name_is_a_409_and_changes_nothing() -> None:
    org = organization()
    owner = member(org, "owner").user
    role_create(organization=org, actor=owner, name="Auditors", permission_codes=[])
    clerk = role_create(organization=org, actor=owner, name="Clerk", permission_codes=[])
    role_update(role=clerk, actor=owner, name="Clerks")
    with refusal("role_name_taken"):
        role_update(role=clerk, actor=owner, name="Auditors")
    assert Role.objects.get(pk=clerk.pk).name == "Clerks"
    # The transaction is still usable after the refusal.
    assert Role.objects.filter(organization=org).count() == 2


def test_member_without_roles_manage_cannot_create_roles() -> None:
    org = organization()
    plain = member(org).user
    with refusal("permission_denied"):
        role_create(organization=org, actor=plain, name="Mine", permission_codes=[])


def test_role_assignment_of_a_role_not_held_is_refused() -> None:
    org = organization()
    admin = member(org, "admin").user
    target = member(org)
    # An admin does not hold org.delete, so cannot make anyone Owner.
    with refusal("permission_not_held"):
        membership_role_change(membership=target, role=builtin("owner"), actor=admin)
    target.refresh_from_db()
    assert target.role == builtin("member")


def test_role_assignment_within_what_is_held_applies_at_once() -> None:
    org = organization()
    admin = member(org, "admin").user
    clerk = role_create(organization=org, actor=admin, name="Clerk", permission_codes=[])
    target = member(org)
    result = membership_role_change(membership=target, role=clerk, actor=admin)
    assert isinstance(result, Membership)
    assert result.role == clerk


def test_last_owner_cannot_be_demoted() -> None:
    org = organization()
    owner_membership = member(org, "owner")
    with refusal("last_owner"):
        membership_role_change(
            membership=owner_membership, role=builtin("member"), actor=owner_membership.user
        )
    owner_membership.refresh_from_db()
    assert owner_membership.role.kind == Role.Kind.OWNER


def test_owner_can_step_down_when_another_owner_remains() -> None:
    org = organization()
    first = member(org, "owner")
    member(org, "owner")
    result = membership_role_change(membership=first, role=builtin("member"), actor=first.user)
    assert isinstance(result, Membership)
    assert result.role.kind == Role.Kind.MEMBER


def test_last_owner_cannot_be_removed() -> None:
    org = organization()
    owner_membership = member(org, "owner")
    with refusal("last_owner"):
        membership_remove(membership=owner_membership, by=owner_membership.user, reason="leaving")
    owner_membership.refresh_from_db()
    assert owner_membership.status == Membership.Status.ACTIVE


def test_expired_owner_does_not_count_as_the_remaining_owner() -> None:
    from django.utils import timezone

    org = organization()
    owner_membership = member(org, "owner")
    member(org, "owner", expires_at=timezone.now())
    with refusal("last_owner"):
        membership_remove(membership=owner_membership, by=owner_membership.user, reason="leaving")


def test_last_owner_cannot_be_terminated() -> None:
    operator = organization(is_operator=True)
    officer = member(operator, "owner").user
    member(operator, "owner")
    customer = organization()
    sole_owner = member(customer, "owner").user
    with refusal("last_owner"):
        user_terminate(user=sole_owner, by=officer, reason="left the company")
    assert fresh(sole_owner).terminated_at is None


def test_role_in_use_cannot_be_deleted_without_reassigning() -> None:
    org = organization()
    admin = member(org, "admin").user
    clerk = role_create(organization=org, actor=admin, name="Clerk", permission_codes=[])
    holder = member(org, role=clerk)
    with refusal("role_in_use"):
        role_delete(role=clerk, actor=admin)
    assert Role.objects.filter(pk=clerk.pk).exists()

    moved = role_delete(role=clerk, actor=admin, reassign_to=builtin("member"))
    assert moved == 1
    holder.refresh_from_db()
    assert holder.role == builtin("member")
    assert not Role.objects.filter(pk=clerk.pk).exists()


def test_unused_role_is_deleted() -> None:
    org = organization()
    admin = member(org, "admin").user
    clerk = role_create(organization=org, actor=admin, name="Clerk", permission_codes=[])
    assert role_delete(role=clerk, actor=admin) == 0
    assert not Role.objects.filter(pk=clerk.pk).exists()


def test_builtin_role_cannot_be_deleted_or_changed() -> None:
    org = organization()
    owner = member(org, "owner").user
    with refusal("role_builtin"):
        role_delete(role=builtin("member"), actor=owner)
    with refusal("role_builtin"):
        role_update(role=builtin("member"), actor=owner, permission_codes=[])


def test_privileged_role_goes_to_approval_not_applied() -> None:
    org = organization()
    owner = member(org, "owner").user
    target = member(org)
    result = membership_role_change(membership=target, role=builtin("admin"), actor=owner)
    assert isinstance(result, ApprovalRequest)
    target.refresh_from_db()
    assert target.role.kind == Role.Kind.MEMBER
