"""Checks over the audit trail: the chain verifies, every data-holding model
is followed, the sequences have no gaps, and security events are handled."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from auditlog.registry import auditlog
from django.apps import apps
from django.db import models
from django.db.models import Count, Max, Min

from audit import chain
from audit.models import AuditLogEntry, SecurityEvent
from compliance.checks.registry import (
    CheckContext,
    Outcome,
    check,
    failed,
    judged,
    model_field_names,
    not_implemented,
    optional_model,
    passed,
)
from compliance.policy import threshold

# Apps whose models hold customer, access or compliance data: every concrete
# model in them must be followed by the audit trail, unless listed below
# with the reason it is not.
DATA_APPS = ("accounts", "audit", "compliance")
NOT_AUDITED: dict[str, str] = {
    "accounts.usersession": "changes on every request; sign-in, sign-out and revocation "
    "are security events",
    "audit.auditlogentry": "the audit trail itself, chained",
    "audit.securityevent": "the security event record itself, chained",
    "compliance.jobrun": "an operational record of job runs, written by the jobs",
    "compliance.run": "an output of the engine, never edited",
    "compliance.result": "an output of the engine, never edited",
    "compliance.controlscore": "an output of the engine, never edited",
    "compliance.criterionscore": "an output of the engine, never edited",
    "compliance.categoryscore": "an output of the engine, never edited",
    # Credentials: their secrets must never enter the trail; enrolment,
    # use and revocation are security events.
    "accounts.passwordhistory": "password hashes kept to refuse reuse: a secret",
    "accounts.totpdevice": "holds the TOTP secret; enrolment and removal are security events",
    "accounts.backupcode": "hashed one-time codes: a secret, consumed on use",
    "accounts.tokenfamily": "refresh-token session state rotated on every refresh; issue "
    "and revocation are security events",
    "accounts.refreshrecord": "one row per refresh token issued: append-only, holds token ids",
    "accounts.accessreviewreminder": "a send log of reminders, append-only",
    "accounts.lockoutepisode": "lockout state kept for axes; each lock and unlock is a "
    "security event (auth.locked_out, auth.unlocked)",
    # The chain's own bookkeeping.
    "audit.anchor": "an append-only anchor of the hash chain, itself verified",
    "audit.chainhead": "the chain's head pointer, rewritten on every appended row",
    # Rows detection appends or recomputes by itself.
    "audit.signinprofileentry": "a profile cache derived from security events",
    "audit.detectioncursor": "the detection job's cursor",
    "audit.alertevent": "an append-only link from an alert to the events it groups",
    "audit.incidenteventlink": "an append-only link from an incident to its events",
    "audit.notification": "an append-only send log of notifications",
    "audit.ingestedline": "an append-only record of ingested log lines",
    # Outputs of privacy and reporting jobs, written once by the job.
    "compliance.retentionrun": "an output of the retention job, with its JobRun",
    "compliance.retentionbatch": "an output of the retention job, append-only",
    "compliance.archiveobject": "an archive written once by the retention job, hash-checked",
    "compliance.deletioncertificate": "issued once on erasure and never edited",
    "compliance.consentrecord": "append-only: a consent or withdrawal is a new row",
    "compliance.privacynoticeacknowledgement": "append-only: one row per acknowledgement",
    "compliance.backuprecord": "an output of the backup job, with its JobRun",
    "compliance.restoretest": "an output of the restore test, never edited",
    "compliance.apiusage": "a usage counter flushed from the cache",
    "compliance.reportpack": "a generated report pack, never edited",
}

CHUNK = 20_000


def data_holding_models() -> list[type[models.Model]]:
    found = []
    for app_label in DATA_APPS:
        for model in apps.get_app_config(app_label).get_models():
            if model._meta.label_lower not in NOT_AUDITED:
                found.append(model)
    return found


@check("cc-auditlog-coverage", controls=["CX-AUD-01"], weight=2)
def auditlog_coverage(ctx: CheckContext) -> Outcome:
    """Every model holding customer, access or compliance data is audited."""
    registered = set(auditlog.get_models())
    required = data_holding_models()
    missing = sorted(m._meta.label for m in required if m not in registered)
    return judged(
        not missing,
        f"all {len(required)} data-holding models are followed by the audit trail",
        f"{len(missing)} data-holding model(s) are not audited",
        missing,
        audited=sorted(m._meta.label for m in required if m in registered),
        exempt=NOT_AUDITED,
    )


class _ChainRow:
    """A stand-in row for ``chain.compute_hash``: the hashed columns only,
    refilled for each database row so that a million rows cost no model
    instances."""

    def __init__(self, model: type[models.Model]) -> None:
        self._meta = model._meta


def chain_verify(model: type[models.Model]) -> dict[str, Any]:
    """Recompute the chain of ``model``; return counts and the first break.

    Reads the rows in ``seq`` order through one server-side cursor.
    """
    fields = chain.HASHED_FIELDS[model._meta.label_lower]
    columns = (*fields, "prev_hash", "row_hash")
    row = _ChainRow(model)
    checked = 0
    first_break: str | None = None
    breaks = 0
    previous_hash: str | None = None
    previous_seq: int | None = None
    rows = model._default_manager.exclude(seq=None).order_by("seq").values_list(*columns)
    for values in rows.iterator(chunk_size=CHUNK):
        for name, value in zip(fields, values, strict=False):
            setattr(row, name, value)
        prev_hash, row_hash = values[-2], values[-1]
        seq = row.seq  # type: ignore[attr-defined]
        problem = None
        if previous_hash is not None and prev_hash != previous_hash:
            problem = "its link does not match the previous row"
        elif previous_seq is not None and seq != previous_seq + 1:
            problem = f"rows {previous_seq + 1} to {seq - 1} are missing"
        elif chain.compute_hash(prev_hash, row) != row_hash:  # type: ignore[arg-type]
            problem = "its content does not match its hash"
        if problem is not None:
            breaks += 1
            if first_break is None:
                first_break = f"{model._meta.label} seq {seq}: {problem}"
        previous_hash, previous_seq = row_hash, seq
        checked += 1
    return {"rows": checked, "breaks": breaks, "first_break": first_break}


def _verify(model: type[models.Model]) -> dict[str, Any]:
    """Verify with the audit app's own verifier (anchors, personal digests)
    where it exists, else by recomputing the hashes here."""
    verifier = getattr(chain, "verify_chain", None)
    if verifier is None:
        return chain_verify(model)
    report = verifier(model)
    return {
        "rows": report.rows,
        "breaks": 0 if report.ok else 1,
        "first_break": None if report.ok else f"{model._meta.label} {report.problem}",
    }


@check("cc-audit-chain", controls=["CX-AUD-01", "CX-PI-01"], weight=3)
def audit_chain(ctx: CheckContext) -> Outcome:
    """The audit trail and security events verify against their hash chain."""
    reports = {model._meta.label: _verify(model) for model in (AuditLogEntry, SecurityEvent)}
    breaks = [r["first_break"] for r in reports.values() if r["first_break"]]
    return judged(
        not breaks,
        f"{sum(r['rows'] for r in reports.values())} chained rows verify",
        "the audit chain is broken",
        breaks,
        tables=reports,
    )


@check("pi-record-sequence", controls=["CX-PI-01", "CX-AUD-01"])
def record_sequence(ctx: CheckContext) -> Outcome:
    """The audit and event records have no gap in their sequence."""
    failing = []
    evidence = {}
    for model in (AuditLogEntry, SecurityEvent):
        stats = model._default_manager.exclude(seq=None).aggregate(
            count=Count("id"), low=Min("seq"), high=Max("seq")
        )
        unchained = model._default_manager.filter(seq=None).count()
        evidence[model._meta.label] = {**stats, "unchained": unchained}
        if stats["count"] and stats["high"] - stats["low"] + 1 != stats["count"]:
            failing.append(
                f"{model._meta.label}: {stats['high'] - stats['low'] + 1 - stats['count']} "
                f"missing between {stats['low']} and {stats['high']}"
            )
        if unchained:
            failing.append(f"{model._meta.label}: {unchained} row(s) outside the chain")
    return judged(
        not failing, "the sequences are complete", "records are missing", failing, **evidence
    )


@check("cc-events-risk-scored", controls=["CX-DET-01", "CX-RSK-01"])
def events_risk_scored(ctx: CheckContext) -> Outcome:
    """Every security event of the last day received a risk score."""
    grace = timedelta(minutes=threshold("risk_scoring_grace_minutes"))
    window = SecurityEvent.objects.filter(
        occurred_at__gte=ctx.now - timedelta(days=1), occurred_at__lt=ctx.now - grace
    )
    total = window.count()
    if total and not SecurityEvent.objects.exclude(risk_score=None).exists():
        return not_implemented("risk scoring has never scored an event", events=total)
    unscored = window.filter(risk_score=None)
    count = unscored.count()
    return judged(
        count == 0,
        f"all {total} event(s) of the last day are scored",
        f"{count} of {total} event(s) of the last day have no risk score",
        [f"event {pk}" for pk in unscored.values_list("public_id", flat=True)[:50]],
        events=total,
    )


@check("cc-alerts-triaged", controls=["CX-INC-01"], weight=2)
def alerts_triaged(ctx: CheckContext) -> Outcome:
    """No critical alert waits longer than a day for acknowledgement."""
    alert = optional_model("audit.Alert")
    fields = model_field_names(alert)
    if not {"severity", "status", "created_at"} <= fields:
        return failed("the alert model lacks severity, status or created_at", [alert._meta.label])
    limit = timedelta(hours=threshold("critical_alert_ack_hours"))
    waiting = alert._default_manager.filter(
        severity="critical", status="open", created_at__lt=ctx.now - limit
    )
    count = waiting.count()
    return judged(
        count == 0,
        "every critical alert was acknowledged in time",
        f"{count} critical alert(s) unacknowledged past {limit}",
        [f"alert {pk}" for pk in waiting.values_list("pk", flat=True)[:50]],
    )


@check("cc-incidents-reviewed", controls=["CX-INC-01"])
def incidents_reviewed(ctx: CheckContext) -> Outcome:
    """No incident closed without a post-incident review."""
    incident = optional_model("audit.Incident")
    fields = model_field_names(incident)
    review = next(
        (
            f
            for f in ("review_summary", "review", "post_incident_review", "lessons_learned")
            if f in fields
        ),
        None,
    )
    if review is None or "status" not in fields:
        return failed("the incident model records no review", [incident._meta.label])
    closed = incident._default_manager.filter(status="closed")
    unreviewed = closed.filter(**{review: ""}) | closed.filter(**{f"{review}__isnull": True})
    if "reviewed_at" in fields:
        unreviewed = unreviewed | closed.filter(reviewed_at=None)
    count = unreviewed.count()
    if not closed.exists():
        return passed("no incident has been closed yet")
    return judged(
        count == 0,
        "every closed incident has its review",
        f"{count} closed incident(s) without a review",
        [f"incident {pk}" for pk in unreviewed.values_list("pk", flat=True)[:50]],
    )
