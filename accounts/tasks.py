"""Celery entry points of the accounts app: call one service each."""

from __future__ import annotations

from celery import shared_task
from django.db import IntegrityError
from django.utils import timezone

from accounts.services import reviews
from cloudexpress import requestcontext

START_JOB = "accounts.access_review_start"


@shared_task(name=START_JOB, soft_time_limit=300, time_limit=360, max_retries=2)
def access_review_start_task() -> dict[str, int]:
    """Start this quarter's access-review campaign in each organization, once:
    the campaign is unique per organization and quarter, and the run is
    stamped in JobRun under the quarter's slot."""
    from compliance.models import JobRun

    with requestcontext.system_job("celery:access_review_start"):
        now = timezone.now()
        slot = reviews.quarter_slot(now)
        counts = reviews.access_reviews_quarter_start(now=now)
        run = JobRun.objects.filter(job=START_JOB, slot=slot).first()
        if run is None:
            try:
                JobRun.objects.create(
                    job=START_JOB,
                    slot=slot,
                    status=JobRun.Status.DONE,
                    started_at=now,
                    finished_at=timezone.now(),
                    counts=counts,
                )
            except IntegrityError:
                pass  # a concurrent run stamped the slot
        return counts


@shared_task(
    name="accounts.access_review_remind", soft_time_limit=300, time_limit=360, max_retries=2
)
def access_review_remind_task() -> int:
    with requestcontext.system_job("celery:access_review_remind"):
        return reviews.access_review_reminders_send()


@shared_task(name="accounts.access_expire", soft_time_limit=300, time_limit=360, max_retries=2)
def access_expire_task() -> dict[str, int]:
    """Mark expired memberships and invitations; safe to run at any time."""
    from accounts.services import invitations, memberships

    with requestcontext.system_job("celery:access_expire"):
        return {
            "memberships": memberships.memberships_expire(),
            "invitations": invitations.invitations_expire(),
        }


@shared_task(name="accounts.lockouts_unlock", soft_time_limit=120, time_limit=180, max_retries=2)
def lockouts_unlock_task() -> int:
    """Record the unlock of lockouts whose cool-off has ended (idempotent)."""
    from accounts.auth.lockout import lockouts_expired_close

    with requestcontext.system_job("celery:lockouts_unlock"):
        return lockouts_expired_close()
