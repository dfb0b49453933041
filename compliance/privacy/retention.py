"""The retention job: delete what has outlived its policy, in short batches.

Shape of a run:

* one run per day slot, claimed through JobRun's unique (job, slot); a
  finished slot is returned untouched, so a second run the same day deletes
  nothing, and a failed or interrupted one resumes from its cursor;
* cut-offs are fixed when the slot's run starts, so a resumed run deletes
  exactly what the first attempt would have;
* each batch is one short transaction: (archive,) delete by key range,
  record the batch and one audit entry, advance the cursor;
* chained tables (audit entries, security events) lose only a prefix of
  their chain, up to the first row that must stay (not yet expired or under
  a legal hold), so the rest still verifies from the recorded anchor;
* afterwards the run verifies that nothing expired and unheld remains.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from cloudexpress import dbvendor
from cloudexpress.api.exceptions import ServiceError
from compliance.models import (
    DataType,
    JobRun,
    RetentionBatch,
    RetentionPolicy,
    RetentionRun,
)
from compliance.privacy.holds import ActiveHolds, legal_holds_active
from compliance.privacy.policies import retention_policies_ensure

logger = logging.getLogger(__name__)

JOB_NAME = "retention"
LOCK_NAME = "compliance:retention"

# A batch whose rows changed while it ran is rolled back and tried again.
BATCH_ATTEMPTS = 3

# Called inside every batch's transaction after the delete, with the data
# type and batch number: tests raise from it to prove that a crash rolls the
# batch back and that the next run resumes.
batch_hook: Callable[[str, int], None] | None = None


def batch_size(*, archived: bool = False) -> int:
    """Rows per batch: large for plain deletes, so the fixed cost of a batch
    (its row, its audit entry, the cursor) stays small; small for archived
    types, whose rows are serialised and encrypted inside the batch.

    A plain batch of 100,000 rows is one indexed read and one DELETE of a
    key range, about 0.1 s on PostgreSQL on a busy two-core machine
    (tests/bench/bench_privacy_retention.py): several times under the one
    second a batch may hold its row locks, so contention leaves room."""
    if archived:
        return int(getattr(settings, "RETENTION_ARCHIVE_BATCH_SIZE", 5_000))
    return int(getattr(settings, "RETENTION_BATCH_SIZE", 100_000))


@dataclass(frozen=True)
class Target:
    """One table the retention job deletes from by date."""

    data_type: str
    model_label: str
    date_field: str
    chained: bool = False
    user_fields: tuple[str, ...] = ()
    organization_fields: tuple[str, ...] = ()

    def model(self) -> type[models.Model] | None:
        try:
            return apps.get_model(self.model_label)
        except LookupError:
            return None

    @property
    def key(self) -> str:
        return "seq" if self.chained else "pk"


# A type whose model is not installed reports "absent" instead of failing.
TARGETS: tuple[Target, ...] = (
    Target(
        DataType.AUDIT_LOGS,
        "audit.AuditLogEntry",
        "timestamp",
        chained=True,
        user_fields=("actor_id",),
    ),
    Target(
        DataType.SECURITY_EVENTS,
        "audit.SecurityEvent",
        "occurred_at",
        chained=True,
        user_fields=("actor_id", "target_user_id"),
        organization_fields=("organization_id",),
    ),
    Target(
        DataType.USAGE_DATA,
        "compliance.ApiUsage",
        "day",
        organization_fields=("organization_id",),
    ),
    Target(
        DataType.NOTIFICATIONS,
        "audit.Notification",
        "created_at",
        user_fields=("recipient_id",),
    ),
)


def _cutoff_value(target: Target, cutoff: datetime) -> date | datetime:
    model = target.model()
    assert model is not None
    if isinstance(model._meta.get_field(target.date_field), models.DateTimeField):
        return cutoff
    return cutoff.date()


def _held_q(target: Target, holds: ActiveHolds) -> Q | None:
    """Rows of ``target`` that a user or organization hold covers."""
    query = Q()
    if holds.user_ids:
        for name in target.user_fields:
            query |= Q(**{f"{name}__in": holds.user_ids})
    if holds.organization_ids:
        for name in target.organization_fields:
            query |= Q(**{f"{name}__in": holds.organization_ids})
    if target.data_type == DataType.AUDIT_LOGS:
        # Entries about a held user or organization, not only by them.
        from accounts.models import Organization, User

        for model, ids in ((User, holds.user_ids), (Organization, holds.organization_ids)):
            if ids:
                query |= Q(
                    content_type=ContentType.objects.get_for_model(model),
                    object_pk__in=[str(pk) for pk in ids],
                )
    return query if query else None


def _expired(target: Target, cutoff: datetime) -> models.QuerySet[Any]:
    model = target.model()
    assert model is not None
    return model._default_manager.filter(
        **{f"{target.date_field}__lt": _cutoff_value(target, cutoff)}
    ).order_by()


def expired_unheld(target: Target, cutoff: datetime, holds: ActiveHolds) -> models.QuerySet[Any]:
    """Rows of ``target`` past ``cutoff`` that no user or organization hold keeps."""
    expired = _expired(target, cutoff)
    held = _held_q(target, holds)
    return expired.exclude(held) if held is not None else expired


def _chain_barrier(target: Target, cutoff: datetime, holds: ActiveHolds) -> int | None:
    """Return the seq of the first row that must stay, or None if none must."""
    model = target.model()
    assert model is not None
    manager = model._default_manager.exclude(seq=None).order_by()
    kept = manager.filter(**{f"{target.date_field}__gte": _cutoff_value(target, cutoff)})
    # The head always stays: an empty table would restart its chain at the
    # genesis hash and reuse sequence numbers.
    bounds = manager.aggregate(head=Max("seq"))
    candidates = [kept.aggregate(first=Min("seq"))["first"], bounds["head"]]
    held = _held_q(target, holds)
    if held is not None:
        candidates.append(
            _expired(target, cutoff).filter(held).aggregate(first=Min("seq"))["first"]
        )
    present = [value for value in candidates if value is not None]
    return min(present) if present else None


def _delete_batch(
    queryset: models.QuerySet[Any], *, key_range: tuple[int, int] | None = None
) -> list[list[int]]:
    """Delete the rows ``queryset`` selects in one statement; return their
    keys as sorted [first, last] runs.

    One DELETE with the queryset's own WHERE clause (``dbvendor`` says how
    the keys are summarised per database), instead of the ORM's collector
    (nothing points at these tables, and the collector would load every row
    first) or a key subquery (PostgreSQL answers ``id IN (...)`` with a hash
    join over the whole table).
    """
    model = queryset.model
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk_column = quote(model._meta.pk.column)
    query = queryset.order_by().query
    compiler = query.get_compiler(connection=connection)
    where_sql, params = compiler.compile(query.where)
    if len(query.alias_map) > 1:
        # A join the WHERE clause cannot express alone: fall back to keys.
        sql, params = queryset.values("pk").order_by().query.sql_with_params()
        where_sql = f"{pk_column} IN ({sql})"
    return dbvendor.delete_summarised(table, pk_column, where_sql, params, key_range=key_range)


def _count(runs: list[list[int]]) -> int:
    return sum(last - first + 1 for first, last in runs)


def _audit_batch(
    *,
    run: RetentionRun,
    model: type[models.Model],
    data_type: str,
    number: int,
    runs: list[list[int]],
) -> None:
    """Record one audit entry for one deleted batch: the bulk path's trail."""
    from audit.models import AuditLogEntry

    AuditLogEntry(
        content_type=ContentType.objects.get_for_model(model),
        object_pk=f"retention:{run.public_id}:{data_type}:{number}",
        object_repr=f"Retention batch {number} of {data_type}",
        action=AuditLogEntry.Action.DELETE,
        additional_data={
            "retention_run": str(run.public_id),
            "data_type": data_type,
            "batch": number,
            "count": _count(runs),
            "id_ranges": runs,
        },
    ).save()


class _Runner:
    def __init__(self, run: RetentionRun, holds: ActiveHolds, archive: dict[str, bool]) -> None:
        self.run = run
        self.holds = holds
        self.archive = archive

    def cutoff(self, data_type: str) -> datetime:
        return datetime.fromisoformat(self.run.cutoffs[data_type])

    def state(self, data_type: str) -> dict[str, Any]:
        return dict(self.run.cursor.get(data_type, {}))

    def save_state(self, data_type: str, state: dict[str, Any], deleted: int) -> None:
        self.run.cursor[data_type] = state
        self.run.counts[data_type] = self.run.counts.get(data_type, 0) + deleted
        self.run.save(update_fields=["cursor", "counts"])

    # --- Tables deleted by date -------------------------------------------

    def delete_target(self, target: Target) -> None:
        model = target.model()
        data_type = target.data_type
        state = self.state(data_type)
        if state.get("done"):
            return
        self.run.counts.setdefault(data_type, 0)
        if model is None:
            self.save_state(data_type, {"done": True, "absent": True}, 0)
            return
        cutoff = self.cutoff(data_type)
        expired = _expired(target, cutoff)
        if data_type in self.holds.data_types:
            self.run.held[data_type] = {"data_type_hold": True, "rows": expired.count()}
            self.save_state(data_type, {"done": True, "held": True}, 0)
            return

        held = _held_q(target, self.holds)
        if held is not None:
            self.run.held[data_type] = {"rows": expired.filter(held).count()}
        candidates = expired.exclude(held) if held is not None else expired

        key = target.key
        if "end" not in state:
            bounds = candidates.aggregate(first=Min(key), last=Max(key))
            if bounds["last"] is None:
                self.save_state(data_type, {"done": True}, 0)
                return
            state = {"after": bounds["first"] - 1, "end": bounds["last"], "number": 0}
        if target.chained:
            # Rows at or past the barrier stay, or the chain would have a gap.
            barrier = _chain_barrier(target, cutoff, self.holds)
            if barrier is not None:
                state["end"] = min(state["end"], barrier - 1)
            candidates = expired

        size = batch_size(archived=bool(self.archive.get(data_type)))
        while state["after"] < state["end"]:
            # A fixed stride of keys: expired rows are the oldest, so their
            # keys are dense and a stride holds about ``size`` rows, without
            # a query to find each batch's upper bound.
            upper = min(state["after"] + size, state["end"])
            batch = candidates.filter(**{f"{key}__gt": state["after"], f"{key}__lte": upper})
            for attempt in range(BATCH_ATTEMPTS):
                try:
                    self.commit_batch(target, model, batch, state, upper)
                    break
                except dbvendor.DeletedRowsChanged:
                    # Rolled back whole; the same key range again reads the
                    # rows as they are now.
                    if attempt + 1 == BATCH_ATTEMPTS:
                        raise
                    logger.warning(
                        "retention.batch_retried",
                        extra={"data_type": data_type, "batch": state["number"] + 1},
                    )

        state["done"] = True
        self.save_state(data_type, state, 0)

    def commit_batch(
        self,
        target: Target,
        model: type[models.Model],
        batch: models.QuerySet[Any],
        state: dict[str, Any],
        upper: int,
    ) -> None:
        from compliance.privacy.archive import archive_write

        started = time.monotonic()
        number = state["number"] + 1
        with transaction.atomic():
            archive = None
            archived_ids: list[int] | None = None
            if self.archive.get(target.data_type):
                rows = list(batch.order_by("pk").values())
                archived_ids = [row["id"] for row in rows]
                if rows:
                    archive = archive_write(
                        data_type=target.data_type, run=self.run, number=number, rows=rows
                    )
            if target.chained:
                # audit.services.audit_prune_before deletes the whole expired
                # prefix at once and knows no legal holds, batches or archive,
                # so retention deletes its own batch (below the barrier) while
                # holding the chain's head lock, like every chain writer.
                from audit import chain

                chain.lock_and_read_head(model)
            # Old rows are dense: while the last batch removed every key of
            # its range, try the cheaper delete that assumes this one does.
            key_range = (state["after"], upper)
            dense = target.key == "pk" and state.get("dense", True)
            runs = _delete_batch(batch, key_range=key_range if dense else None)
            if archived_ids is not None and runs != dbvendor.key_runs(archived_ids):
                raise RuntimeError("retention: deleted rows differ from the archived rows")
            if target.chained and runs:
                # Written with the delete, under the head lock: the audit
                # verifier starts at the newest retained-start anchor, so the
                # chain verifies between batches too, not only after the run.
                self.record_anchor(target, model)
            if batch_hook is not None:
                batch_hook(target.data_type, number)
            deleted = _count(runs)
            if runs:
                RetentionBatch.objects.create(
                    run=self.run,
                    data_type=target.data_type,
                    number=number,
                    first_pk=runs[0][0],
                    last_pk=runs[-1][1],
                    row_count=deleted,
                    id_ranges=runs,
                    archive=archive,
                    duration_ms=int((time.monotonic() - started) * 1000),
                )
                _audit_batch(
                    run=self.run, model=model, data_type=target.data_type, number=number, runs=runs
                )
            state.update(after=upper, number=number, dense=deleted == upper - state["after"])
            self.save_state(target.data_type, state, deleted)
        logger.debug(
            "retention.batch_done",
            extra={"data_type": target.data_type, "batch": number, "rows": deleted},
        )

    def record_anchor(self, target: Target, model: type[models.Model]) -> None:
        """Record where the pruned chain now starts, for ``audit.verification``
        (an ``Anchor`` of kind START) and in the run."""
        from audit import chain
        from audit.models import Anchor

        first = (
            model._default_manager.exclude(seq=None)
            .order_by("seq")
            .values("seq", "prev_hash")
            .first()
        )
        if first is None or (first["seq"] == 1 and first["prev_hash"] == chain.GENESIS):
            return
        self.run.anchors[target.data_type] = {
            "table": model._meta.label_lower,
            "seq": first["seq"],
            "prev_hash": first["prev_hash"],
        }
        self.run.save(update_fields=["anchors"])
        Anchor.objects.get_or_create(
            chain=chain.label(model),
            kind=Anchor.Kind.START,
            seq=first["seq"],
            defaults={"row_hash": first["prev_hash"]},
        )

    # --- User data: erased three years after termination -------------------

    def erase_users(self) -> None:
        from compliance.privacy import gdpr

        data_type = DataType.USER_DATA
        state = self.state(data_type)
        if state.get("done"):
            return
        self.run.counts.setdefault(data_type, 0)
        candidates = gdpr.users_past_retention(self.cutoff(data_type))
        if data_type in self.holds.data_types:
            self.run.held[data_type] = {"data_type_hold": True, "rows": candidates.count()}
            self.save_state(data_type, {"done": True, "held": True}, 0)
            return
        held = gdpr.users_under_hold(candidates, self.holds)
        self.run.held[data_type] = {"rows": held.count()}
        number = state.get("number", 0)
        for user in candidates.exclude(pk__in=held.values("pk")).order_by("pk").iterator():
            number += 1
            with transaction.atomic():
                gdpr.subject_erase(user=user, reason="retention")
                RetentionBatch.objects.create(
                    run=self.run,
                    data_type=data_type,
                    number=number,
                    first_pk=user.pk,
                    last_pk=user.pk,
                    row_count=1,
                    id_ranges=[[user.pk, user.pk]],
                )
                self.save_state(data_type, {"number": number}, 1)
        self.save_state(data_type, {"number": number, "done": True}, 0)

    # --- Backups: pruned past the policy ------------------------------------

    def prune_backups(self) -> None:
        from compliance.models import BackupRecord
        from compliance.privacy import backups

        data_type = DataType.BACKUPS
        state = self.state(data_type)
        if state.get("done"):
            return
        self.run.counts.setdefault(data_type, 0)
        expired = BackupRecord.objects.filter(
            created_at__lt=self.cutoff(data_type), status=BackupRecord.Status.DONE
        )
        if data_type in self.holds.data_types:
            self.run.held[data_type] = {"data_type_hold": True, "rows": expired.count()}
            self.save_state(data_type, {"done": True, "held": True}, 0)
            return
        number = state.get("number", 0)
        for record in expired.order_by("pk").iterator():
            number += 1
            with transaction.atomic():
                backups.backup_prune(record=record)
                RetentionBatch.objects.create(
                    run=self.run,
                    data_type=data_type,
                    number=number,
                    first_pk=record.pk,
                    last_pk=record.pk,
                    row_count=1,
                    id_ranges=[[record.pk, record.pk]],
                )
                self.save_state(data_type, {"number": number}, 1)
        self.save_state(data_type, {"number": number, "done": True}, 0)


def _verify(run: RetentionRun, holds: ActiveHolds) -> dict[str, Any]:
    """Count what expired, is not held, and still exists: zero everywhere."""
    from compliance.models import BackupRecord
    from compliance.privacy import gdpr

    report: dict[str, Any] = {}
    for target in TARGETS:
        model = target.model()
        cutoff = datetime.fromisoformat(run.cutoffs[target.data_type])
        if model is None:
            report[target.data_type] = {"ok": True, "absent": True}
            continue
        if target.data_type in holds.data_types:
            report[target.data_type] = {"ok": True, "held": True}
            continue
        expired = _expired(target, cutoff)
        held = _held_q(target, holds)
        unheld = expired.exclude(held) if held is not None else expired
        remaining = unheld.count()
        blocked = 0
        if target.chained:
            barrier = _chain_barrier(target, cutoff, holds)
            if barrier is not None:
                blocked = unheld.filter(seq__gte=barrier).count()
        report[target.data_type] = {
            "ok": remaining - blocked == 0,
            "remaining": remaining,
            "kept_behind_barrier": blocked,
        }
        if target.chained:
            report[target.data_type]["chain"] = chain_verify_from_anchor(model, limit=1000)

    users = gdpr.users_past_retention(datetime.fromisoformat(run.cutoffs[DataType.USER_DATA]))
    if DataType.USER_DATA in holds.data_types:
        report[DataType.USER_DATA] = {"ok": True, "held": True}
    else:
        left = users.exclude(pk__in=gdpr.users_under_hold(users, holds).values("pk")).count()
        report[DataType.USER_DATA] = {"ok": left == 0, "remaining": left}

    if DataType.BACKUPS in holds.data_types:
        report[DataType.BACKUPS] = {"ok": True, "held": True}
    else:
        left = BackupRecord.objects.filter(
            created_at__lt=datetime.fromisoformat(run.cutoffs[DataType.BACKUPS]),
            status=BackupRecord.Status.DONE,
        ).count()
        report[DataType.BACKUPS] = {"ok": left == 0, "remaining": left}
    return report


def chain_verify_from_anchor(model: type[models.Model], *, limit: int | None = None) -> bool:
    """Recompute the start of ``model``'s chain: its first row must link to
    the newest retained-start anchor, the one ``audit.verification`` starts
    from (or to the genesis hash if retention never pruned the table), and
    the next ``limit`` rows must hash and link. ``manage.py audit_verify``
    walks the whole chain; this bounded walk is what each run can afford.
    """
    from audit import chain
    from audit.models import Anchor

    start = (
        Anchor.objects.filter(chain=chain.label(model), kind=Anchor.Kind.START)
        .order_by("-seq")
        .values_list("seq", "row_hash")
        .first()
    )
    expected = tuple(start) if start else (1, chain.GENESIS)
    rows: models.QuerySet[Any] = model._default_manager.exclude(seq=None).order_by("seq")
    if limit is not None:
        rows = rows[:limit]
    previous: Any = None
    row: Any
    for row in rows.iterator(chunk_size=2000):
        if previous is None:
            if (row.seq, row.prev_hash) != expected:
                return False
        elif row.seq != previous.seq + 1 or row.prev_hash != previous.row_hash:
            return False
        if chain.compute_hash(row.prev_hash, row) != row.row_hash:
            return False
        previous = row
    return True


def _claim(slot: str, triggered_by: Any, now: datetime) -> tuple[RetentionRun, bool]:
    """Return the slot's run and whether it still has work to do."""
    try:
        with transaction.atomic():
            job = JobRun.objects.create(
                job=JOB_NAME,
                slot=slot,
                status=JobRun.Status.RUNNING,
                worker=socket.gethostname(),
                started_at=now,
            )
    except IntegrityError:
        job = JobRun.objects.get(job=JOB_NAME, slot=slot)
    run = RetentionRun.objects.filter(job_run=job).first()
    if run is not None and run.status == RetentionRun.Status.DONE:
        return run, False
    if run is None:
        policies = retention_policies_ensure()
        run = RetentionRun.objects.create(
            job_run=job,
            started_at=now,
            triggered_by=triggered_by if getattr(triggered_by, "pk", None) else None,
            cutoffs={dt: policy.cutoff(now).isoformat() for dt, policy in policies.items()},
        )
    else:
        run.status = RetentionRun.Status.RUNNING
        run.error = ""
        run.save(update_fields=["status", "error"])
    JobRun.objects.filter(pk=job.pk).update(status=JobRun.Status.RUNNING, error="")
    return run, True


def retention_execute(*, triggered_by: Any = None, now: datetime | None = None) -> RetentionRun:
    """Run (or resume, or return) the retention run of today's slot."""
    from compliance.privacy.certificates import certificate_for_run

    now = now or timezone.now()
    slot = now.date().isoformat()
    if not dbvendor.try_lock_for_session(LOCK_NAME):
        raise ServiceError(
            "A retention run is in progress.", code="retention_running", status_code=409
        )
    try:
        run, pending = _claim(slot, triggered_by, now)
        if not pending:
            logger.info("retention.already_done", extra={"run_id": str(run.public_id)})
            return run
        holds = legal_holds_active()
        archive = dict(RetentionPolicy.objects.values_list("data_type", "archive_before_delete"))
        runner = _Runner(run, holds, archive)
        try:
            for target in TARGETS:
                runner.delete_target(target)
            runner.erase_users()
            runner.prune_backups()
            run.verification = _verify(run, holds)
            run.status = RetentionRun.Status.DONE
            run.finished_at = timezone.now()
            run.save(update_fields=["verification", "status", "finished_at", "held"])
            certificate_for_run(run)
        except Exception as exc:
            run.status = RetentionRun.Status.FAILED
            run.error = type(exc).__name__
            run.save(update_fields=["status", "error"])
            JobRun.objects.filter(pk=run.job_run_id).update(
                status=JobRun.Status.FAILED, error=type(exc).__name__
            )
            logger.exception("retention.failed", extra={"run_id": str(run.public_id)})
            raise
        JobRun.objects.filter(pk=run.job_run_id).update(
            status=JobRun.Status.DONE, finished_at=run.finished_at, counts=run.counts
        )
        _record_security_event(run)
        if not all(part.get("ok") for part in run.verification.values()):
            logger.warning("retention.verification_failed", extra={"run_id": str(run.public_id)})
        logger.info("retention.done", extra={"run_id": str(run.public_id), "counts": run.counts})
        return run
    finally:
        dbvendor.unlock_session(LOCK_NAME)


def _record_security_event(run: RetentionRun) -> None:
    from audit.models import SecurityEvent
    from audit.services import security_event_record

    security_event_record(
        event_type=SecurityEvent.Type.RETENTION_EXECUTED,
        actor=run.triggered_by_id,
        detail={"run": str(run.public_id), "counts": run.counts},
    )


def retention_preview(*, now: datetime | None = None) -> dict[str, Any]:
    """Report what a run now would delete, per data type, deleting nothing."""
    from compliance.models import BackupRecord
    from compliance.privacy import gdpr

    now = now or timezone.now()
    policies = retention_policies_ensure()
    holds = legal_holds_active()
    report: dict[str, Any] = {}
    for target in TARGETS:
        policy = policies[target.data_type]
        cutoff = policy.cutoff(now)
        entry: dict[str, Any] = {"cutoff": cutoff.isoformat(), "policy": str(policy)}
        if target.model() is None:
            report[target.data_type] = {**entry, "absent": True, "would_delete": 0}
            continue
        expired = _expired(target, cutoff)
        total = expired.count()
        if target.data_type in holds.data_types:
            report[target.data_type] = {
                **entry,
                "expired": total,
                "held": total,
                "would_delete": 0,
            }
            continue
        held = _held_q(target, holds)
        held_count = expired.filter(held).count() if held is not None else 0
        if target.chained:
            barrier = _chain_barrier(target, cutoff, holds)
            would = expired.filter(seq__lt=barrier).count() if barrier is not None else total
        else:
            would = total - held_count
        report[target.data_type] = {
            **entry,
            "expired": total,
            "held": held_count,
            "would_delete": would,
        }

    for data_type, queryset, held_count in (
        (
            DataType.USER_DATA,
            users := gdpr.users_past_retention(policies[DataType.USER_DATA].cutoff(now)),
            gdpr.users_under_hold(users, holds).count(),
        ),
        (
            DataType.BACKUPS,
            BackupRecord.objects.filter(
                created_at__lt=policies[DataType.BACKUPS].cutoff(now),
                status=BackupRecord.Status.DONE,
            ),
            0,
        ),
    ):
        total = queryset.count()
        if data_type in holds.data_types:
            held_count = total
        report[data_type] = {
            "cutoff": policies[data_type].cutoff(now).isoformat(),
            "policy": str(policies[data_type]),
            "expired": total,
            "held": held_count,
            "would_delete": total - held_count,
        }
    return report
