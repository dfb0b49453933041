"""The role graph kept in memory between requests: used while the database's
stamp names it, and never once any write to roles, their permissions or the
catalog has happened, whoever made it (here: raw SQL from another client)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from accounts import authorization
from accounts.models import Organization, Permission, Role, RoleGraphStamp, User
from accounts.services import role_create
from cloudexpress import dbvendor, requestcontext
from tests.accounts.access_helpers import builtin, fresh, member, organization
from tests.support.processes import database_url_for_processes

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sqlite"])


@pytest.fixture
def other() -> Iterator[psycopg.Connection]:
    """Another client of the same PostgreSQL database, in autocommit."""
    with psycopg.connect(database_url_for_processes(), autocommit=True) as conn:
        yield conn


def holds(user: User, code: str, org: Organization) -> bool:
    """The check as a new request makes it (no access kept on the user)."""
    return authorization.user_has_perm(fresh(user), code, org, record_denial=False)


def token() -> str:
    return RoleGraphStamp.objects.get(pk=1).token


def test_a_warm_graph_costs_no_query_beyond_the_memberships() -> None:
    org = organization()
    user = member(org, "admin").user
    with requestcontext.system_job("first"):
        assert authorization.user_has_perm(fresh(user), "members.invite", org)
    user = fresh(user)
    with requestcontext.system_job("second"), CaptureQueriesContext(connection) as queries:
        assert authorization.user_has_perm(user, "members.invite", org)
    # The memberships, with the stamp's token read in the same statement.
    assert len(queries.captured_queries) == 1, [q["sql"] for q in queries.captured_queries]
    assert "accounts_rolegraphstamp" in queries.captured_queries[0]["sql"]


def test_a_grant_written_by_another_client_is_seen_on_the_next_check(other) -> None:  # type: ignore[no-untyped-def]
    org = organization()
    user = member(org).user
    assert not holds(user, "members.invite", org)  # and the graph is now in memory
    before = token()
    invite = Permission.objects.get(code="members.invite")
    other.execute(
        "INSERT INTO accounts_role_permissions (role_id, permission_id) VALUES (%s, %s)",
        [builtin("member").pk, invite.pk],
    )
    assert token() != before
    assert holds(user, "members.invite", org)


def test_a_revocation_written_by_another_client_is_seen_on_the_next_check(other) -> None:  # type: ignore[no-untyped-def]
    org = organization()
    user = member(org).user
    assert holds(user, "controls.view", org)
    view = Permission.objects.get(code="controls.view")
    other.execute(
        "DELETE FROM accounts_role_permissions WHERE role_id = %s AND permission_id = %s",
        [builtin("member").pk, view.pk],
    )
    assert not holds(user, "controls.view", org)


def test_a_parent_cut_by_another_client_takes_the_inherited_codes_away(other) -> None:  # type: ignore[no-untyped-def]
    org = organization()
    owner = member(org, "owner").user
    role = role_create(
        organization=org,
        actor=owner,
        name="Clerk",
        permission_codes=["evidence.upload"],
        parent=builtin("member"),
    )
    clerk = member(org, role=role).user
    assert holds(clerk, "controls.view", org)  # inherited from Member
    other.execute("UPDATE accounts_role SET parent_id = NULL WHERE id = %s", [role.pk])
    assert not holds(clerk, "controls.view", org)
    assert holds(clerk, "evidence.upload", org)


def test_a_kind_changed_by_another_client_applies_the_auditor_rule(other) -> None:  # type: ignore[no-untyped-def]
    org = organization()
    owner = member(org, "owner").user
    role = role_create(
        organization=org, actor=owner, name="Uploader", permission_codes=["evidence.upload"]
    )
    uploader = member(org, role=role).user
    assert holds(uploader, "evidence.upload", org)
    # An auditor-kind role never passes a code outside the auditor set.
    other.execute("UPDATE accounts_role SET kind = %s WHERE id = %s", [Role.Kind.AUDITOR, role.pk])
    assert not holds(uploader, "evidence.upload", org)


def test_a_catalog_code_renamed_by_another_client_is_seen(other) -> None:  # type: ignore[no-untyped-def]
    org = organization()
    user = member(org).user
    assert holds(user, "controls.view", org)
    other.execute(
        "UPDATE accounts_permission SET code = 'controls.view.gone' WHERE code = 'controls.view'"
    )
    assert not holds(user, "controls.view", org)


def test_a_write_touching_no_row_still_gives_a_new_token_on_postgresql(other) -> None:  # type: ignore[no-untyped-def]
    before = token()
    other.execute("UPDATE accounts_role SET name = name WHERE id = -1")
    assert token() != before


def test_a_truncate_gives_a_new_token_on_postgresql(other) -> None:  # type: ignore[no-untyped-def]
    before = token()
    other.execute("TRUNCATE accounts_role_permissions")
    assert token() != before


def test_the_sqlite_triggers_give_a_new_token_on_each_write() -> None:
    sqlite = connections["sqlite"]

    def sqlite_token() -> str:
        with sqlite.cursor() as cursor:
            cursor.execute("SELECT token FROM accounts_rolegraphstamp WHERE id = 1")
            row = cursor.fetchone()
        return row[0] if row else ""

    writes = [
        "INSERT INTO accounts_permission (code, description) VALUES ('x.test', '')",
        "INSERT INTO accounts_role (public_id, name, kind, description, created_at) "
        "VALUES ('00000000000000000000000000000001', 'R', 'custom', '', '2026-01-01')",
        "INSERT INTO accounts_role_permissions (role_id, permission_id) "
        "SELECT r.id, p.id FROM accounts_role r, accounts_permission p "
        "WHERE r.name = 'R' AND p.code = 'x.test'",
        "UPDATE accounts_role SET kind = 'auditor' WHERE name = 'R'",
        "UPDATE accounts_permission SET code = 'x.renamed' WHERE code = 'x.test'",
        "DELETE FROM accounts_role_permissions",
        "DELETE FROM accounts_role WHERE name = 'R'",
    ]
    tokens = []
    with sqlite.cursor() as cursor:
        for statement in writes:
            cursor.execute(statement)
            tokens.append(sqlite_token())
    assert all(tokens), tokens
    assert len(set(tokens)) == len(writes), tokens


def test_the_graph_kept_is_bounded() -> None:
    org = organization()
    user = member(org).user
    for _ in range(authorization._GRAPHS_KEPT + 10):
        # A new token each time: an UPDATE of the stamp table is a write the
        # triggers do not watch, so write a watched table.
        Role.objects.filter(pk=-1).update(name="x")
        assert holds(user, "controls.view", org)
    assert len(authorization._graphs) <= authorization._GRAPHS_KEPT


def test_the_trigger_statements_cover_every_watched_table() -> None:
    for vendor in ("postgresql", "sqlite"):
        install, remove = dbvendor.role_graph_stamp_triggers(vendor)
        for table in dbvendor.ROLE_GRAPH_TABLES:
            assert any(f" ON {table} " in statement for statement in install), (vendor, table)
        assert len(remove) >= len(dbvendor.ROLE_GRAPH_TABLES)
