"""The chain: every hashed column, link and anchor is checked by audit_verify,
retention and erasure keep it verifiable, parallel writers never fork it."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.utils import timezone

from accounts.models import Organization
from audit import chain, services, verification
from audit.models import Anchor, AuditLogEntry, SecurityEvent
from audit.services import audit_prune_before, audit_pseudonymise_subject, security_event_record
from cloudexpress import requestcontext
from tests import factories

pytestmark = pytest.mark.django_db


def _verify() -> str:
    from io import StringIO

    out = StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue()


def _verify_fails() -> str:
    with pytest.raises(CommandError) as failure:
        _verify()
    return str(failure.value)


def _rows(count: int = 5) -> dict[str, Any]:
    """Write ``count`` entries and events with every column filled in."""
    actor, target = factories.UserFactory(), factories.UserFactory()
    organization = factories.OrganizationFactory()
    context = requestcontext.RequestContext("req-chain-0001", "198.51.100.7", "agent", actor.pk)
    entries, events = [], []
    with requestcontext.bind(context):
        for i in range(count):
            entries.append(
                AuditLogEntry.objects.log_create(
                    organization,
                    action=AuditLogEntry.Action.UPDATE,
                    changes={"name": [f"old {i}", f"new {i}"]},
                    changes_text="renamed",
                    serialized_data={"fields": {"name": f"new {i}"}},
                    additional_data={"via": "test"},
                    remote_port=4000 + i,
                    actor_email=actor.email,
                )
            )
            events.append(
                security_event_record(
                    event_type=SecurityEvent.Type.ROLE_GRANTED,
                    target_user=target,
                    organization=organization,
                    detail={"role": "auditor", "i": i},
                )
            )
    return {"entries": entries, "events": events, "actor": actor, "target": target}


def test_untouched_chains_verify() -> None:
    _rows()
    output = _verify()
    assert "OK audit.auditlogentry" in output
    assert "OK audit.securityevent: 5 rows (seq 1..5)" in output


# What each column is changed to by someone editing the database directly.
TAMPER_SQL = {
    "seq": "-seq",
    "timestamp": "timestamp + interval '1 second'",
    "occurred_at": "occurred_at - interval '1 hour'",
    "content_type_id": "(SELECT MAX(id) FROM django_content_type)",
    "object_pk": "object_pk || '0'",
    "object_id": "COALESCE(object_id, 0) + 1000",
    "action": "2",
    "cid": "'forged-request-id'",
    "actor_pk": "COALESCE(actor_pk, 0) + 1",
    "target_user_pk": "COALESCE(target_user_pk, 0) + 1",
    "organization_pk": "COALESCE(organization_pk, 0) + 1",
    "system_actor": "'celery:forged'",
    "public_id": "gen_random_uuid()",
    "event_type": "'auth.sign_in_succeeded'",
    "severity": "'critical'",
    "request_id": "'forged-request-id'",
    "personal_digest": "md5(personal_digest) || md5(personal_digest)",
    "prev_hash": "md5(prev_hash) || md5(prev_hash)",
    "row_hash": "md5(row_hash) || md5(row_hash)",
    "personal_salt": "'\\x00000000000000000000000000000000'::bytea",
    # Personal columns: committed to by the digest while the salt exists.
    "object_repr": "'someone else'",
    "changes": '\'{"name": ["x", "y"]}\'::jsonb',
    "changes_text": "'edited'",
    "serialized_data": "'{}'::jsonb",
    "additional_data": '\'{"via": "forged"}\'::jsonb',
    "remote_addr": "'203.0.113.66'::inet",
    "remote_port": "1",
    "actor_email": "'forged@example.test'",
    "user_agent": "'forged agent'",
    "ip": "'203.0.113.66'::inet",
    "detail": '\'{"role": "owner"}\'::jsonb',
    # Foreign keys must agree with their hashed copies.
    "actor_id": "(SELECT MAX(id) FROM accounts_user)",
    "target_user_id": "(SELECT MAX(id) FROM accounts_user)",
    "organization_id": "(SELECT MAX(id) FROM accounts_organization)",
}


def _protected_columns(label: str) -> list[str]:
    fks = [name for pair in chain.FK_COPIES[label] for name in pair[:1]]
    return [
        *chain.HASHED_FIELDS[label],
        "prev_hash",
        "row_hash",
        "personal_salt",
        *chain.PERSONAL_FIELDS[label],
        *fks,
    ]


CASES = [
    (model, column)
    for model in (AuditLogEntry, SecurityEvent)
    for column in _protected_columns(model._meta.label_lower)
]


@pytest.mark.parametrize(
    ("model", "column"), CASES, ids=[f"{m._meta.model_name}.{c}" for m, c in CASES]
)
def test_direct_edit_of_any_protected_column_names_that_row(model: Any, column: str) -> None:
    rows = _rows()
    target = (rows["entries"] if model is AuditLogEntry else rows["events"])[2]
    assert column in TAMPER_SQL, f"no tamper expression for {column}"
    # Newer rows for the foreign keys to be pointed at.
    factories.UserFactory()
    factories.OrganizationFactory()
    _verify()

    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {model._meta.db_table} SET {column} = {TAMPER_SQL[column]} WHERE id = %s",
            [target.pk],
        )
        assert cursor.rowcount == 1

    message = _verify_fails()
    assert f"{model._meta.label_lower} row seq=" in message
    assert f"id={target.pk}:" in message


@pytest.mark.parametrize("model", [AuditLogEntry, SecurityEvent])
def test_clearing_a_salt_outside_an_erasure_is_named(model: Any) -> None:
    rows = _rows()
    target = (rows["entries"] if model is AuditLogEntry else rows["events"])[1]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {model._meta.db_table} SET personal_salt = NULL, user_agent = 'edited' "
            "WHERE id = %s",
            [target.pk],
        )
    message = _verify_fails()
    assert f"id={target.pk}: personal salt removed outside an erasure" in message


def test_hashed_columns_cover_no_personal_column() -> None:
    for label, hashed in chain.HASHED_FIELDS.items():
        assert not set(hashed) & set(chain.PERSONAL_FIELDS[label])
        assert "risk_score" not in hashed and "risk_factors" not in hashed


def test_risk_score_changes_do_not_break_the_chain() -> None:
    rows = _rows()
    SecurityEvent.objects.filter(pk=rows["events"][1].pk).update(
        risk_score=80, risk_factors={"new_country": 40}
    )
    assert "OK audit.securityevent" in _verify()


@pytest.mark.parametrize("model", [AuditLogEntry, SecurityEvent])
def test_deleting_a_middle_row_is_found(model: Any) -> None:
    rows = _rows()
    items = rows["entries"] if model is AuditLogEntry else rows["events"]
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE id = %s", [items[2].pk])

    message = _verify_fails()
    assert f"id={items[3].pk}: rows are missing before this row" in message


@pytest.mark.parametrize("model", [AuditLogEntry, SecurityEvent])
def test_truncating_the_newest_rows_is_caught_by_the_anchor(model: Any) -> None:
    rows = _rows()
    assert len(services.audit_anchor_create()) == 2
    assert services.audit_anchor_create() == []  # an unchanged head is not anchored twice
    items = rows["entries"] if model is AuditLogEntry else rows["events"]
    newest = max(item.seq for item in items)
    _verify()

    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE seq >= %s", [newest - 1])

    message = _verify_fails()
    assert f"chain truncated: anchored row seq {newest} is gone" in message


def test_without_an_anchor_truncation_is_invisible_which_is_why_anchors_exist() -> None:
    rows = _rows()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_securityevent WHERE id = %s", [rows["events"][-1].pk])
    assert "OK audit.securityevent: 4 rows" in _verify()


def test_anchor_task_is_scheduled_and_anchors_each_head() -> None:
    from audit.tasks import audit_anchor_task
    from cloudexpress.beat import BEAT_SCHEDULE

    assert BEAT_SCHEDULE["audit-anchor"]["task"] == "audit.anchor"
    assert float(BEAT_SCHEDULE["audit-anchor"]["schedule"]) <= 600
    _rows(2)
    assert audit_anchor_task() == 2
    assert audit_anchor_task() == 0
    assert set(Anchor.objects.values_list("chain", "seq")) == {
        ("audit.auditlogentry", AuditLogEntry.objects.order_by("-seq").first().seq),
        ("audit.securityevent", 2),
    }


def test_pruning_the_oldest_rows_keeps_the_rest_verifiable() -> None:
    start = timezone.now() - timedelta(days=400)
    with time_machine.travel(start, tick=False):
        old = _rows(3)
    kept = _rows(2)
    services.audit_anchor_create()

    cutoff = start + timedelta(days=1)
    old_entries = AuditLogEntry.objects.filter(timestamp__lt=cutoff).count()
    assert old_entries >= 3

    assert audit_prune_before(model=SecurityEvent, before=cutoff) == 3
    assert audit_prune_before(model=AuditLogEntry, before=cutoff) == old_entries
    assert audit_prune_before(model=SecurityEvent, before=cutoff) == 0  # nothing left to do
    assert not SecurityEvent.objects.filter(pk__in=[e.pk for e in old["events"]]).exists()
    assert not AuditLogEntry.objects.filter(timestamp__lt=cutoff).exists()
    output = _verify()
    # 2 kept events and one retention event per pruned chain.
    assert "OK audit.securityevent: 4 rows (seq 4..7)" in output
    assert "OK audit.auditlogentry" in output
    assert SecurityEvent.objects.filter(event_type=SecurityEvent.Type.RETENTION_EXECUTED).exists()

    # The start anchor does not excuse a further deletion at the new start.
    first = SecurityEvent.objects.order_by("seq").first()
    assert first.pk == kept["events"][0].pk
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_securityevent WHERE id = %s", [first.pk])
    assert "rows are missing before this row" in _verify_fails()


def test_deleting_the_oldest_rows_without_retention_is_found() -> None:
    rows = _rows()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_securityevent WHERE id = %s", [rows["events"][0].pk])
    assert "chain starts at seq 2 but no retained-start anchor" in _verify_fails()


def test_pseudonymising_a_subject_removes_personal_data_and_keeps_the_chain() -> None:
    rows = _rows()
    actor = rows["actor"]
    before = dict(AuditLogEntry.objects.values_list("pk", "personal_digest"))

    counts = audit_pseudonymise_subject(actor)

    assert counts["entries"] >= 5
    assert counts["events"] == 5
    erased = AuditLogEntry.objects.filter(actor_pk=actor.pk)
    for entry in erased:
        assert entry.personal_salt is None
        assert entry.remote_addr is None and entry.user_agent == "" and entry.actor_email is None
        assert entry.object_repr.startswith("erased-")
        assert set(entry.changes.values()) <= {services.ERASED}
        assert entry.personal_digest == before[entry.pk]  # hashed columns untouched
    for event in SecurityEvent.objects.filter(actor_pk=actor.pk):
        assert event.ip is None and event.user_agent == "" and "role" not in event.detail
    assert SecurityEvent.objects.filter(
        event_type=SecurityEvent.Type.DATA_ERASED, target_user_pk=actor.pk
    ).exists()
    output = _verify()
    assert "OK audit.auditlogentry" in output
    assert "rows pseudonymised" in output
    report = verification.verify_chain(SecurityEvent)
    assert report.ok and report.erased_rows == 5

    # A second erasure of the same person keeps the first one's record.
    audit_pseudonymise_subject(actor)
    assert SecurityEvent.objects.filter(event_type=SecurityEvent.Type.DATA_ERASED).count() == 2
    assert verification.verify_chain(SecurityEvent).ok
    assert verification.verify_chain(AuditLogEntry).ok


# --- Parallel writers -------------------------------------------------------

WRITERS = 4
ROWS_EACH = 15


def _writer(barrier: Any, index: int) -> None:
    # A fresh process with its own connection to the test database.
    barrier.wait(timeout=30)
    with requestcontext.system_job(f"test:writer-{index}"):
        for i in range(ROWS_EACH):
            security_event_record(event_type=SecurityEvent.Type.API_KEY_USED, detail={"i": i})
            Organization.objects.create(name=f"w{index}-{i}", slug=f"w{index}-{i}")
    connections.close_all()


@pytest.mark.slow
def test_parallel_writers_in_separate_processes_leave_one_verifiable_chain(
    transactional_db: None,
) -> None:
    connections.close_all()  # children must not share the parent's socket
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(WRITERS)
    processes = [context.Process(target=_writer, args=(barrier, i)) for i in range(WRITERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * WRITERS

    events = verification.verify_chain(SecurityEvent)
    entries = verification.verify_chain(AuditLogEntry)
    assert events.ok, events.problem
    assert entries.ok, entries.problem
    assert events.rows == WRITERS * ROWS_EACH
    assert entries.rows == WRITERS * ROWS_EACH
    assert (events.first_seq, events.last_seq) == (1, WRITERS * ROWS_EACH)
    assert set(SecurityEvent.objects.values_list("system_actor", flat=True)) == {
        f"test:writer-{i}" for i in range(WRITERS)
    }
