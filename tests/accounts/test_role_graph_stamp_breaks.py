"""Ways to change the role graph without the stamp's token changing with it,
so a process keeps using a graph it loaded earlier (found by the breaker).

Each test first shows the check answering from the graph kept in memory,
then changes what a role holds by an ordinary Django path, then checks again
as a new request would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core import serializers
from django.core.management import call_command
from django.db import connections, models

from accounts import authorization
from accounts.models import Organization, Role, RoleGraphStamp, User
from tests.accounts.access_helpers import builtin, fresh, member, organization

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "sqlite"])


def holds(user: User, code: str, org: Organization) -> bool:
    return authorization.user_has_perm(fresh(user), code, org, record_denial=False)


def test_loaddata_of_a_fixture_carrying_a_seen_token_does_not_bring_back_the_old_graph(
    tmp_path: Path,
) -> None:
    """``dumpdata`` writes the stamp row (it is a model like any other) and
    ``loaddata`` writes it back after the roles, so the token of the fixture
    is the one the database ends up with, whatever the fixture's roles hold.
    A fixture edited after it was dumped (a demo or staging fixture), or a
    dump taken while a role changed (``dumpdata`` reads model after model),
    then pairs a token some process has already seen with another graph."""
    org = organization()
    user = member(org).user
    assert holds(user, "controls.view", org)  # the graph is now kept under this token
    seen = RoleGraphStamp.objects.get(pk=1).token

    # The fixture: the built-in member role without controls.view, and the
    # stamp as dumpdata wrote it when the fixture was made.
    role = builtin("member")
    [role_object] = json.loads(serializers.serialize("json", [role]))
    view_pk = role.permissions.get(code="controls.view").pk
    role_object["fields"]["permissions"] = [
        pk for pk in role_object["fields"]["permissions"] if pk != view_pk
    ]
    stamp_object = {"model": "accounts.rolegraphstamp", "pk": 1, "fields": {"token": seen}}
    fixture = tmp_path / "roles.json"
    fixture.write_text(json.dumps([role_object, stamp_object]))
    call_command("loaddata", str(fixture), verbosity=0)

    assert not Role.objects.get(pk=role.pk).permissions.filter(code="controls.view").exists()
    assert not holds(user, "controls.view", org), (
        "the revoked code is still granted: the database's token is the one the "
        "process kept the old graph under"
    )


def _sqlite_triggers() -> set[str]:
    with connections["sqlite"].cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%graph_touch%'"
        )
        return {row[0] for row in cursor.fetchall()}


def _sqlite_token() -> str | None:
    with connections["sqlite"].cursor() as cursor:
        cursor.execute("SELECT token FROM accounts_rolegraphstamp WHERE id = 1")
        row = cursor.fetchone()
    return row[0] if row else None


def test_a_later_migration_altering_roles_on_sqlite_keeps_the_triggers() -> None:
    """On SQLite, Django alters a column by remaking the table (create a new
    one, copy, drop the old, rename), and dropping a table drops its
    triggers. The next migration with an AlterField (or RemoveField, or a
    constraint change) on Role, or on the permission catalog, would silently
    end the invalidation on the embedded default: every process would keep
    the graph it loaded until restarted. ``migrate`` should leave the
    triggers installed whatever its migrations did."""
    sqlite = connections["sqlite"]
    # A row for the UPDATE below to touch: SQLite's triggers are per row.
    Role.objects.using("sqlite").create(name="Reviewer", kind=Role.Kind.CUSTOM)
    before = _sqlite_triggers()
    assert any(name.startswith("accounts_role_graph_touch") for name in before), before

    old_field = Role._meta.get_field("description")
    new_field = models.TextField(blank=True, default="")
    new_field.set_attributes_from_name("description")
    new_field.model = Role
    try:
        # What a future migration's AlterField does on SQLite.
        with sqlite.schema_editor() as editor:
            editor.alter_field(Role, old_field, new_field)
        # migrate runs with nothing left to apply, as it would after that
        # migration, and gives its post_migrate handlers their turn.
        call_command("migrate", database="sqlite", verbosity=0, interactive=False)
        after = _sqlite_triggers()
        token_before = _sqlite_token()
        with sqlite.cursor() as cursor:
            cursor.execute("UPDATE accounts_role SET kind = kind")
        assert after == before, sorted(before - after)
        assert _sqlite_token() != token_before
    finally:
        with sqlite.schema_editor() as editor:
            editor.alter_field(Role, new_field, old_field)
        from cloudexpress.dbvendor import role_graph_stamp_triggers

        install, remove = role_graph_stamp_triggers("sqlite")
        with sqlite.cursor() as cursor:
            for statement in remove + install:
                cursor.execute(statement)
