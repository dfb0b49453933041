"""The thresholds the checks hold the system to, in one place.

Each value is the compliance document's number; a deployment may tighten
(never loosen silently) any of them with the ``COMPLIANCE_THRESHOLDS``
setting, which the checks report in their evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "password_min_length": 12,
    "password_max_age_days": 90,
    "session_idle_max_seconds": 30 * 60,
    "session_absolute_max_seconds": 12 * 3600,
    "lockout_max_failures": 5,
    "jwt_access_max_minutes": 15,
    "api_key_max_age_days": 90,
    "encryption_key_max_age_days": 365,
    "hsts_min_seconds": 365 * 24 * 3600,
    "request_max_bytes": 10 * 1024 * 1024,
    "max_superusers": 3,
    "heartbeat_window_minutes": 5,
    "job_stuck_hours": 2,
    "risk_scoring_grace_minutes": 15,
    "critical_alert_ack_hours": 24,
    "disk_free_min_percent": 10,
    "database_max_bytes": 200 * 1024**3,
    "expired_sessions_grace_days": 1,
    "privacy_request_max_days": 30,
    "terminated_user_data_years": 3,
    "audit_log_retention_years": 7,
    "security_event_retention_years": 7,
    "policy_review_months": 12,
    "training_refresher_months": 12,
    "onboarding_training_days": 30,
    "dr_test_months": 12,
    "restore_test_days": 30,
    "backup_rpo_minutes": 60,
}


def threshold(name: str) -> Any:
    overrides = getattr(settings, "COMPLIANCE_THRESHOLDS", {}) or {}
    return overrides.get(name, DEFAULTS[name])


@dataclass(frozen=True)
class OccurrenceRecord:
    """Where a recurring activity that is not a scheduled job leaves its
    trace: one row per occurrence, stamped by ``field``, filtered by
    ``where`` (a register entry a person records, not a JobRun)."""

    model: str  # "app_label.Model"
    field: str
    where: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RecurringJob:
    """A job that must run on a cadence: the JobRun ``job`` key it records,
    the Celery task that beat must schedule, and how late it may be. An
    activity people perform (a training round, a DR exercise) names the
    register rows that record it instead, and no task."""

    key: str
    task: str
    title: str
    period: str  # "hour", "day", "quarter", "year"
    window: timedelta
    control: str
    record: OccurrenceRecord | None = None


# The JobRun key each job stamps and the Celery task beat schedules (see
# cloudexpress/beat.py). Retention and backup stamp short keys of their own
# (compliance/privacy/retention.py JOB_NAME, backups.py); the restore test
# records RestoreTest rows, which its check reads, so its key names no JobRun.
# The training refresher and the DR test are not jobs: people hold them, and
# the governance registers record each occurrence (a completion of an annual
# refresher module, a DR test against a plan). Readiness counts those rows;
# the gov-training-refresher and gov-dr-test checks judge their content.
RECURRING_JOBS: tuple[RecurringJob, ...] = (
    RecurringJob(
        "compliance.run_checks",
        "compliance.run_checks",
        "Daily compliance run",
        "day",
        timedelta(hours=26),
        "CX-MON-01",
    ),
    RecurringJob(
        "retention",
        "compliance.retention_run",
        "Daily retention run",
        "day",
        timedelta(hours=26),
        "CX-CON-02",
    ),
    RecurringJob(
        "backup",
        "compliance.backup_run",
        "Hourly database backup",
        "hour",
        timedelta(minutes=75),
        "CX-BCK-01",
    ),
    RecurringJob(
        "compliance.restore_test",
        "compliance.restore_test",
        "Restore test",
        "month",
        timedelta(days=30),
        "CX-BCK-01",
    ),
    RecurringJob(
        "audit.detection_run",
        "audit.detection_run",
        "Detection over recent events",
        "five_minutes",
        timedelta(minutes=15),
        "CX-DET-01",
    ),
    RecurringJob(
        "accounts.access_review_start",
        "accounts.access_review_start",
        "Quarterly access review",
        "quarter",
        timedelta(days=92),
        "CX-ACC-04",
    ),
    RecurringJob(
        "compliance.training_refresher",
        "",
        "Annual security training refresher",
        "year",
        timedelta(days=366),
        "CX-HR-01",
        OccurrenceRecord(
            "compliance.TrainingCompletion",
            "completed_at",
            (("module__kind", "annual_refresher"),),
        ),
    ),
    RecurringJob(
        "compliance.dr_test",
        "",
        "Annual disaster recovery test",
        "year",
        timedelta(days=366),
        "CX-BCK-01",
        OccurrenceRecord("compliance.DisasterRecoveryTest", "performed_at"),
    ),
)


def recurring_job(key: str) -> RecurringJob:
    for job in RECURRING_JOBS:
        if job.key == key:
            return job
    raise KeyError(key)
