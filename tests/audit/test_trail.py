"""Every change leaves an entry with its actor, address and request id:
model saves, many-to-many changes, Django admin, API writes and the writes
that bypass model signals."""

from __future__ import annotations

import pytest
from auditlog.context import disable_auditlog
from django.contrib.auth.models import Group
from django.contrib.auth.models import Permission as AuthPermission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client, override_settings
from rest_framework.test import APIClient

from accounts.models import Membership, Organization, Permission, Role, User
from audit.models import AuditLogEntry, SecurityEvent
from audit.services import (
    audit_record_bulk,
    bulk_create_audited,
    m2m_through_write,
    queryset_update_audited,
)
from cloudexpress import requestcontext
from compliance.models import JobRun
from tests import factories

pytestmark = pytest.mark.django_db

PROXY = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 198.51.100.7"}


def _entries(instance: object) -> list[AuditLogEntry]:
    return list(AuditLogEntry.objects.get_for_object(instance).order_by("seq"))


def _assert_context(entry: AuditLogEntry, actor: User | int | None) -> None:
    assert entry.actor_id == (actor.pk if isinstance(actor, User) else actor)
    assert entry.actor_pk == entry.actor_id
    assert entry.remote_addr == "198.51.100.7"
    assert entry.cid == "req-test-0001"
    assert entry.user_agent == "pytest-agent"


def test_model_change_records_only_what_changed_with_actor_ip_and_request_id() -> None:
    actor = factories.UserFactory()
    organization = factories.OrganizationFactory(name="Before")
    loaded = Organization.objects.get(pk=organization.pk)
    context = requestcontext.RequestContext(
        "req-test-0001", "198.51.100.7", "pytest-agent", actor.pk
    )

    with requestcontext.bind(context):
        loaded.name = "After"
        loaded.save()
        loaded.require_mfa = True
        loaded.save(update_fields=["require_mfa"])

    create, rename, mfa = _entries(organization)
    assert create.action == AuditLogEntry.Action.CREATE and create.actor_id is None
    assert rename.action == AuditLogEntry.Action.UPDATE
    # auto_now columns are stamped after pre_save, where auditlog diffs.
    assert set(rename.changes) == {"name"}
    assert rename.changes["name"] == ["Before", "After"]
    assert mfa.changes == {"require_mfa": [False, True]}
    _assert_context(rename, actor)


def test_a_save_that_changes_nothing_leaves_no_entry_and_deferred_loads_still_diff() -> None:
    organization = factories.OrganizationFactory(name="Same")
    Organization.objects.get(pk=organization.pk).save(update_fields=["name"])
    assert len(_entries(organization)) == 1

    partial = Organization.objects.only("name").get(pk=organization.pk)
    partial.name = "Other"
    partial.save(update_fields=["name"])
    assert _entries(organization)[-1].changes == {"name": ["Same", "Other"]}


def test_disabled_auditlog_records_nothing() -> None:
    with disable_auditlog():
        organization = factories.OrganizationFactory()
    assert _entries(organization) == []


def test_password_hash_never_reaches_the_trail() -> None:
    user = factories.UserFactory()
    user.set_password("Another-Long-Password-1")
    user.save()
    for entry in _entries(user):
        assert "password" not in (entry.changes or {})
        assert "Another" not in str(entry.changes)


def test_m2m_add_remove_and_clear_each_leave_an_entry(
    context: requestcontext.RequestContext,
) -> None:
    role = Role.objects.create(name="Reviewers")
    first, second = (Permission.objects.create(code=f"p.{i}", description="") for i in (1, 2))
    group = Group.objects.create(name="Admin users")
    user = factories.UserFactory()

    role.permissions.add(first, second)
    role.permissions.remove(first)
    role.permissions.clear()
    user.groups.add(group)

    m2m_entries = [e for e in _entries(role) if "permissions" in e.changes]
    for entry in m2m_entries:
        _assert_context(entry, context.actor_id)
    changes = [e.changes["permissions"] for e in m2m_entries]
    assert [(c["operation"], sorted(c["objects"])) for c in changes] == [
        ("add", ["p.1", "p.2"]),
        ("delete", ["p.1"]),
        ("delete", ["p.2"]),  # what was linked, not every permission there is
    ]
    (groups,) = [e for e in _entries(user) if "groups" in e.changes]
    assert groups.changes["groups"] == {
        "type": "m2m",
        "operation": "add",
        "objects": ["Admin users"],
    }
    _assert_context(groups, context.actor_id)


def test_clear_from_the_reverse_side_records_what_was_linked(
    context: requestcontext.RequestContext,
) -> None:
    permission = Permission.objects.create(code="r.1", description="")
    linked, unlinked = Role.objects.create(name="Linked"), Role.objects.create(name="Unlinked")
    linked.permissions.add(permission)

    permission.roles.clear()

    assert not linked.permissions.exists()
    (entry,) = [e for e in _entries(permission) if "permissions" in (e.changes or {})]
    assert entry.changes["permissions"] == {
        "type": "m2m",
        "operation": "delete",
        "objects": ["Linked"],
    }
    assert unlinked.name not in str(entry.changes)


def test_through_model_write_goes_through_the_service_and_is_audited(
    context: requestcontext.RequestContext,
) -> None:
    role = Role.objects.create(name="Loaded")
    permissions = [Permission.objects.create(code=f"t.{i}", description="") for i in range(3)]

    m2m_through_write(instance=role, field_name="permissions", add=permissions)
    m2m_through_write(instance=role, field_name="permissions", remove=permissions[:1])

    assert set(role.permissions.values_list("code", flat=True)) == {"t.1", "t.2"}
    added, removed = [e for e in _entries(role) if "permissions" in e.changes]
    assert added.changes["permissions"]["operation"] == "add"
    assert sorted(added.changes["permissions"]["objects"]) == ["t.0", "t.1", "t.2"]
    assert removed.changes["permissions"] == {
        "type": "m2m",
        "operation": "delete",
        "objects": ["t.0"],
    }
    assert added.additional_data == {"via": "through"}
    _assert_context(removed, context.actor_id)


def test_queryset_update_through_the_service_leaves_one_entry_per_row(
    context: requestcontext.RequestContext,
) -> None:
    memberships = factories.MembershipFactory.create_batch(3)
    untouched = factories.MembershipFactory(status=Membership.Status.SUSPENDED)
    before = AuditLogEntry.objects.count()

    updated = queryset_update_audited(
        Membership.objects.all(), via="queryset.update", status=Membership.Status.SUSPENDED
    )

    assert updated == 4
    assert AuditLogEntry.objects.count() == before + 3  # the suspended one did not change
    for membership in memberships:
        entry = _entries(membership)[-1]
        assert entry.action == AuditLogEntry.Action.UPDATE
        assert entry.changes == {"status": ["active", "suspended"]}
        assert entry.additional_data == {"via": "queryset.update"}
        _assert_context(entry, context.actor_id)
    assert len(_entries(untouched)) == 1


def test_queryset_update_refuses_expressions_it_cannot_record() -> None:
    from django.db.models import F

    with pytest.raises(ValueError):
        queryset_update_audited(JobRun.objects.all(), via="queryset.update", job=F("slot"))


def test_bulk_create_through_the_service_leaves_create_entries(
    context: requestcontext.RequestContext,
) -> None:
    created = bulk_create_audited(
        Permission, [Permission(code=f"bulk.{i}", description="bulk") for i in range(3)]
    )
    for permission in created:
        (entry,) = _entries(permission)
        assert entry.action == AuditLogEntry.Action.CREATE
        assert entry.changes["code"] == [None, permission.code]
        _assert_context(entry, context.actor_id)


def test_raw_sql_through_the_service_records_what_it_deleted() -> None:
    runs = [JobRun.objects.create(job="old-job") for _ in range(3)]
    keep = JobRun.objects.create(job="new-job")

    with requestcontext.system_job("celery:retention"):
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM compliance_jobrun WHERE job = %s RETURNING id", ["old-job"]
            )
            deleted = [row[0] for row in cursor.fetchall()]
        audit_record_bulk(
            model=JobRun, action=AuditLogEntry.Action.DELETE, pks=deleted, via="raw_sql:retention"
        )

    assert sorted(deleted) == sorted(r.pk for r in runs)
    for run in runs:
        entry = _entries(run)[-1]
        assert entry.action == AuditLogEntry.Action.DELETE
        assert entry.system_actor == "celery:retention"
        assert entry.cid  # the job's own request id
    assert len(_entries(keep)) == 1


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_admin_change_is_audited_with_the_trusted_address() -> None:
    admin = factories.UserFactory(is_staff=True, is_superuser=True)
    # Admin permissions come from the authorization service: an Owner of
    # the operator organization, not the superuser flag.
    factories.MembershipFactory(
        user=admin,
        organization=factories.OrganizationFactory(is_operator=True),
        role=factories.builtin_role("owner"),
    )
    client = Client()
    client.force_login(admin)
    permission = AuthPermission.objects.filter(
        content_type=ContentType.objects.get_for_model(Group)
    ).first()
    headers = {**PROXY, "HTTP_X_REQUEST_ID": "req-admin-0001", "HTTP_USER_AGENT": "admin-agent"}

    response = client.post(
        "/admin/auth/group/add/", {"name": "Auditors", "permissions": [permission.pk]}, **headers
    )
    assert response.status_code == 302, response.content[:500]
    group = Group.objects.get(name="Auditors")
    response = client.post(
        f"/admin/auth/group/{group.pk}/change/",
        {"name": "External auditors", "permissions": [permission.pk]},
        **headers,
    )
    assert response.status_code == 302

    create, m2m, rename = _entries(group)
    assert create.action == AuditLogEntry.Action.CREATE
    assert m2m.changes["permissions"]["operation"] == "add"
    assert rename.changes == {"name": ["Auditors", "External auditors"]}
    for entry in (create, m2m, rename):
        assert entry.actor_id == admin.pk
        assert entry.remote_addr == "198.51.100.7"  # never the forged 6.6.6.6
        assert entry.cid == "req-admin-0001"
        assert entry.user_agent == "admin-agent"


@override_settings(TRUSTED_PROXY_COUNT=1)
@pytest.mark.urls("tests.audit.urls_api")
def test_api_write_authenticated_by_key_carries_its_actor() -> None:
    user = factories.UserFactory()
    client = APIClient()
    auth = {"HTTP_AUTHORIZATION": f"TestKey {user.public_id}", "HTTP_X_REQUEST_ID": "req-api-0001"}

    response = client.post(
        "/api/organizations", {"name": "Keyed", "slug": "keyed"}, format="json", **auth, **PROXY
    )
    assert response.status_code == 201
    (entry,) = _entries(Organization.objects.get(slug="keyed"))
    assert entry.actor_id == user.pk
    assert entry.remote_addr == "198.51.100.7"
    assert entry.cid == "req-api-0001"

    # The same credential through a class that does not set the actor: the
    # middleware ran before DRF authenticated, so nobody is recorded.
    response = client.post(
        "/api/organizations-forgetful",
        {"name": "Anon", "slug": "anon"},
        format="json",
        **auth,
        **PROXY,
    )
    assert response.status_code == 201
    (entry,) = _entries(Organization.objects.get(slug="anon"))
    assert entry.actor_id is None


@override_settings(TRUSTED_PROXY_COUNT=1)
@pytest.mark.urls("tests.audit.urls_api")
def test_sign_in_failure_event_carries_ip_agent_and_request_id() -> None:
    response = Client().get(
        "/sign-in-failed", HTTP_X_REQUEST_ID="req-signin-01", HTTP_USER_AGENT="curl/8", **PROXY
    )
    assert response.status_code == 401
    event = SecurityEvent.objects.get(public_id=response.json()["event"])
    assert event.event_type == SecurityEvent.Type.SIGN_IN_FAILED
    assert event.severity == SecurityEvent.Severity.LOW
    assert event.ip == "198.51.100.7"
    assert event.request_id == "req-signin-01"
    assert event.user_agent == "curl/8"


def test_entries_and_events_cannot_be_changed_or_deleted_through_the_orm() -> None:
    organization = factories.OrganizationFactory()
    (entry,) = _entries(organization)
    event = SecurityEvent.objects.create(event_type=SecurityEvent.Type.THROTTLED)
    for row in (entry, event):
        with pytest.raises(PermissionError):
            row.save()
        with pytest.raises(PermissionError):
            row.delete()
