"""The one authorization service: role graph, membership state, object
grants, denials recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import authorization
from accounts.authorization import user_has_perm
from accounts.models import Membership, Role
from accounts.services import object_permission_grant, role_create
from audit.models import SecurityEvent
from cloudexpress import requestcontext
from tests.accounts.access_helpers import builtin, fresh, member, organization

pytestmark = pytest.mark.django_db


def denials() -> int:
    return SecurityEvent.objects.filter(event_type="access.permission_denied").count()


def test_admin_inherits_member_permissions_explicitly_through_parent() -> None:
    org = organization()
    admin = member(org, "admin").user
    assert builtin("admin").parent == builtin("member")
    assert "org.view" not in {p.code for p in builtin("admin").permissions.all()}
    assert user_has_perm(admin, "org.view", org)
    assert user_has_perm(admin, "members.invite", org)
    assert not user_has_perm(admin, "org.delete", org)
    owner = member(org, "owner").user
    assert user_has_perm(owner, "org.delete", org)
    assert user_has_perm(owner, "org.view", org)


def test_custom_role_inherits_from_its_parent() -> None:
    org = organization()
    owner = member(org, "owner").user
    role = role_create(
        organization=org,
        actor=owner,
        name="Evidence clerk",
        permission_codes=["evidence.upload"],
        parent=builtin("member"),
    )
    clerk = member(org, role=role).user
    assert user_has_perm(clerk, "evidence.upload", org)
    assert user_has_perm(clerk, "controls.view", org)  # from Member
    assert not user_has_perm(clerk, "members.invite", org)


def test_denial_records_a_permission_denied_event() -> None:
    org = organization()
    plain = member(org).user
    before = denials()
    assert not user_has_perm(plain, "members.invite", org)
    assert denials() == before + 1
    event = SecurityEvent.objects.filter(event_type="access.permission_denied").first()
    assert event.actor_id == plain.pk
    assert event.organization_id == org.pk
    assert event.detail["permission"] == "members.invite"


def test_membership_in_another_organization_grants_nothing_here() -> None:
    org, other = organization(), organization()
    admin = member(other, "admin").user
    assert user_has_perm(admin, "members.invite", other)
    assert not user_has_perm(fresh(admin), "members.invite", org)


def test_suspended_or_revoked_membership_grants_nothing() -> None:
    org = organization()
    membership = member(org, "admin")
    assert user_has_perm(fresh(membership.user), "members.invite", org)
    Membership.objects.filter(pk=membership.pk).update(status=Membership.Status.SUSPENDED)
    assert not user_has_perm(fresh(membership.user), "members.invite", org)


def test_terminated_user_holds_nothing() -> None:
    org = organization()
    user = member(org, "owner").user
    assert user_has_perm(fresh(user), "org.view", org)
    type(user).objects.filter(pk=user.pk).update(terminated_at=timezone.now())
    assert not user_has_perm(fresh(user), "org.view", org)


def test_object_grant_to_a_membership_covers_that_object_only() -> None:
    org = organization()
    owner = member(org, "owner").user
    clerk_membership = member(org)
    clerk = clerk_membership.user
    # Any model with an organization works as the object: a custom role here.
    report = Role.objects.create(organization=org, name="Q3 report")
    other_report = Role.objects.create(organization=org, name="Q2 report")

    assert not user_has_perm(fresh(clerk), "reports.export", obj=report)
    object_permission_grant(
        organization=org,
        code="reports.export",
        obj=report,
        grantee=clerk_membership,
        granted_by=owner,
    )
    clerk = fresh(clerk)
    assert user_has_perm(clerk, "reports.export", obj=report)
    assert not user_has_perm(clerk, "reports.export", obj=other_report)
    assert not user_has_perm(clerk, "reports.export", org)  # not organization-wide


def test_object_grant_to_a_role_covers_its_holders_and_descendants() -> None:
    org = organization()
    owner = member(org, "owner").user
    folder = Role.objects.create(organization=org, name="Evidence folder A")
    child = role_create(
        organization=org, actor=owner, name="Clerk", permission_codes=[], parent=builtin("member")
    )
    plain = member(org).user
    clerk = member(org, role=child).user
    outsider_org = organization()
    outsider = member(outsider_org).user

    object_permission_grant(
        organization=org,
        code="evidence.view",
        obj=folder,
        grantee=builtin("member"),
        granted_by=owner,
    )
    assert user_has_perm(fresh(plain), "evidence.view", obj=folder)
    assert user_has_perm(fresh(clerk), "evidence.view", obj=folder)  # Clerk inherits Member
    assert not user_has_perm(fresh(outsider), "evidence.view", obj=folder)


def test_auditor_is_read_only_even_with_a_grant() -> None:
    org = organization()
    owner = member(org, "owner").user
    auditor_membership = member(org, "auditor", expires_at=timezone.now() + timedelta(days=30))
    folder = Role.objects.create(organization=org, name="Folder")
    object_permission_grant(
        organization=org,
        code="evidence.upload",
        obj=folder,
        grantee=auditor_membership,
        granted_by=owner,
    )
    auditor = fresh(auditor_membership.user)
    assert user_has_perm(auditor, "evidence.view", org)
    assert not user_has_perm(auditor, "evidence.upload", obj=folder)


def test_unknown_permission_is_refused() -> None:
    org = organization()
    owner = member(org, "owner").user
    assert not user_has_perm(owner, "no.such.permission", org)


def test_without_organization_the_operator_organization_is_asked() -> None:
    operator = organization(is_operator=True)
    customer = organization()
    officer = member(operator, "admin").user
    customer_owner = member(customer, "owner").user
    assert user_has_perm(officer, "controls.manage")
    assert not user_has_perm(customer_owner, "controls.manage")


def test_checks_run_a_fixed_number_of_queries(django_assert_num_queries) -> None:
    org = organization()
    admin = fresh(member(org, "admin").user)
    codes = ("org.view", "members.invite", "roles.manage", "evidence.view")
    # A write to roles gives the stamp a new token: the graph kept is not
    # the current one. Memberships (with the token), then the role graph;
    # then answered from the snapshot for the rest of the request.
    Role.objects.filter(pk=-1).update(name="none")
    with requestcontext.system_job("cold"), django_assert_num_queries(2):
        for code in codes:
            assert authorization.user_has_perm(admin, code, org)
    # The next request finds the graph in memory: the memberships only.
    admin = fresh(admin)
    with requestcontext.system_job("warm"), django_assert_num_queries(1):
        for code in codes:
            assert authorization.user_has_perm(admin, code, org)


def test_snapshot_is_not_kept_across_requests() -> None:
    org = organization()
    membership = member(org, "admin")
    user = fresh(membership.user)
    with requestcontext.system_job("first"):
        assert user_has_perm(user, "members.invite", org)
    Membership.objects.filter(pk=membership.pk).update(status=Membership.Status.REVOKED)
    with requestcontext.system_job("second"):
        assert not user_has_perm(user, "members.invite", org)
    assert not user_has_perm(user, "members.invite", org)
