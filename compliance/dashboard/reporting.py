"""Scheduled reporting: the monthly control status pack, e-mailed to the
compliance officers (operator members holding controls.manage)."""

from __future__ import annotations

import logging
import socket
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.utils import timezone

from compliance.models import JobRun, ReportPack
from compliance.reports.data import ReportDataUnavailable, report_data_get
from compliance.reports.render import pack_render
from compliance.reports.services import report_pack_record

logger = logging.getLogger(__name__)

MONTHLY_PACK_JOB = "compliance.monthly_pack"
OFFICER_PERMISSION = "controls.manage"


def previous_month(today: date) -> tuple[date, date]:
    """The last complete calendar month before ``today``."""
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def _slot_claim(slot: str, now: datetime) -> JobRun | None:
    try:
        with transaction.atomic():
            return JobRun.objects.create(
                job=MONTHLY_PACK_JOB,
                slot=slot,
                status=JobRun.Status.RUNNING,
                worker=socket.gethostname(),
                started_at=now,
            )
    except IntegrityError:
        pass
    # A failed month may be retried; a done or running one is left alone.
    claimed = JobRun.objects.filter(
        job=MONTHLY_PACK_JOB, slot=slot, status=JobRun.Status.FAILED
    ).update(status=JobRun.Status.RUNNING, started_at=now, error="", finished_at=None)
    return JobRun.objects.get(job=MONTHLY_PACK_JOB, slot=slot) if claimed else None


def compliance_officers() -> list[Any]:
    """Users holding controls.manage through a current operator membership."""
    from accounts.authorization import user_has_perm
    from accounts.models import Membership

    memberships = Membership.objects.filter(
        organization__is_operator=True, status=Membership.Status.ACTIVE
    ).select_related("user")
    users = {m.user_id: m.user for m in memberships}
    return sorted(
        (u for u in users.values() if user_has_perm(u, OFFICER_PERMISSION, record_denial=False)),
        key=lambda u: u.email,
    )


def monthly_pack_send(*, now: datetime | None = None) -> ReportPack | None:
    """Build last month's control status pack once and mail it to the officers.

    Beat calls this daily; the month's JobRun slot makes every later call
    that month do nothing, and a missed day catches up on the next.
    """
    now = now or timezone.now()
    start, end = previous_month(timezone.localdate(now))
    slot = start.strftime("%Y-%m")
    job = _slot_claim(slot, now)
    if job is None:
        return None
    try:
        try:
            data = report_data_get(period_start=start, period_end=end)
        except ReportDataUnavailable:
            JobRun.objects.filter(pk=job.pk).update(
                status=JobRun.Status.DONE, finished_at=timezone.now(), counts={"skipped": "no run"}
            )
            logger.info("reports.monthly_pack_skipped", extra={"slot": slot})
            return None
        with transaction.atomic():
            pack = ReportPack.objects.create(
                kind=ReportPack.Kind.CONTROL_STATUS,
                period_start=start,
                period_end=end,
                requested_by=None,
                status=ReportPack.Status.RUNNING,
            )
            rendered = pack_render(data, pack.kind, pack_id=str(pack.public_id))
            report_pack_record(
                data=data,
                kind=pack.kind,
                pdf=rendered.pdf,
                page_count=rendered.page_count,
                pack=pack,
            )
        officers = compliance_officers()
        if officers:
            message = EmailMessage(
                subject=f"Control status report for {start:%B %Y}",
                body=(
                    f"The control status report for {start:%Y-%m-%d} to {end:%Y-%m-%d} is "
                    f"attached (score {data.score}%, pack {pack.public_id}).\n"
                    "Check it with manage.py verify_pack or on the portal's verification page."
                ),
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[officer.email for officer in officers],
            )
            message.attach(pack.filename, rendered.pdf, "application/pdf")
            message.send()
    except Exception as exc:
        JobRun.objects.filter(pk=job.pk).update(
            status=JobRun.Status.FAILED, finished_at=timezone.now(), error=str(exc)[:2000]
        )
        raise
    JobRun.objects.filter(pk=job.pk).update(
        status=JobRun.Status.DONE,
        finished_at=timezone.now(),
        counts={"pack_id": str(pack.public_id), "recipients": len(officers)},
    )
    logger.info(
        "reports.monthly_pack_sent",
        extra={"slot": slot, "pack_id": str(pack.public_id), "recipients": len(officers)},
    )
    return pack
