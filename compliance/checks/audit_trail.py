"""Checks over the audit trail: the chain verifies, every data-holding model
is followed, the sequences have no gaps, and security events are handled."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from auditlog.registry import auditlog
from django.apps import apps
from django.db import models
from django.db.models import Count, Max, Min

from audit import verification
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
    "accounts.rolegraphstamp": "a random token database triggers rewrite on every role "
    "change; the role changes themselves are followed",
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

# Rows per fetch of the verifier's server-side cursor.
CHUNK = 10_000


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


def chain_verify(model: type[models.Model]) -> dict[str, Any]:
    """Verify ``model``'s whole chain with the audit app's verifier and
    return what the evidence shows: rows, span, anchors and the first break.

    Every run re-reads and re-hashes every row, on purpose. Verifying only
    the rows after the last verified anchor would be faster but is not
    sound here: nothing in the database forbids an UPDATE of an old row
    (erasure itself rewrites personal columns), and an edit that leaves a
    row's stored hash alone breaks no link and moves no anchor, so only
    re-hashing that row shows it. An incremental walk would let such an
    edit stand until the next full walk. The walk is made cheap instead:
    plain tuples from one server-side cursor, timestamps rendered as text
    by the database, one SHA-256 per row (see audit.verification), and a
    constant number of queries whatever the length of the chain.
    """
    report = verification.verify_chain(model, chunk_size=CHUNK)
    return {
        "rows": report.rows,
        "first_seq": report.first_seq,
        "last_seq": report.last_seq,
        "anchors_checked": report.anchors_checked,
        "erased_rows": report.erased_rows,
        "breaks": 0 if report.ok else 1,
        "first_break": None if report.ok else f"{model._meta.label} {report.problem}",
    }


@check("cc-audit-chain", controls=["CX-AUD-01", "CX-PI-01"], weight=3)
def audit_chain(ctx: CheckContext) -> Outcome:
    """The audit trail and security events verify against their hash chain."""
    reports = {model._meta.label: chain_verify(model) for model in (AuditLogEntry, SecurityEvent)}
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
