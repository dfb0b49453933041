"""Gaps: each failing control opens or updates one action item, and a run in
which the control passes closes it with a note."""

from __future__ import annotations

import logging
from datetime import datetime

from compliance.models import ActionItem, Control, Run
from compliance.scoring import ScoreSheet

logger = logging.getLogger(__name__)


def action_items_sync(run: Run, sheet: ScoreSheet, now: datetime) -> dict[str, int]:
    """Open, update and close action items from a full run's control scores."""
    controls = {c.code: c for c in Control.objects.filter(code__in=list(sheet.controls))}
    open_items = {
        item.control.code: item
        for item in ActionItem.objects.exclude(status=ActionItem.Status.CLOSED).select_related(
            "control"
        )
    }
    created, updated, closed = [], [], []
    for code, outcome in sheet.controls.items():
        item = open_items.get(code)
        summary = "; ".join(outcome.reasons)[:4000] or "the control does not pass"
        if outcome.status == "fail":
            if item is None:
                control = controls[code]
                created.append(
                    ActionItem(
                        control=control,
                        owner=control.owner,
                        owner_title=control.owner_title,
                        severity=control.severity,
                        summary=summary,
                        opened_at=now,
                        due_at=now + control.due_in(),
                        opened_by_run=run,
                        last_failed_run=run,
                    )
                )
            else:
                item.summary = summary
                item.last_failed_run = run
                item.times_seen += 1
                updated.append(item)
        elif outcome.status == "pass" and item is not None:
            item.status = ActionItem.Status.CLOSED
            item.closed_at = now
            item.closed_by_run = run
            item.close_note = f"Closed by run #{run.pk} on {now:%Y-%m-%d}: the control passed."
            closed.append(item)
    # One save per item (a few dozen at most) so the audit trail records
    # each opening, update and closure.
    for item in created:
        item.save()
    for item in updated:
        item.save(update_fields=["summary", "last_failed_run", "times_seen"])
    for item in closed:
        item.save(update_fields=["status", "closed_at", "closed_by_run", "close_note"])
    counts = {"opened": len(created), "updated": len(updated), "closed": len(closed)}
    logger.info("compliance.action_items_synced", extra={"run_id": run.pk, **counts})
    return counts
