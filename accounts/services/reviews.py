"""Access reviews: a campaign per organization and quarter; reviewers keep,
change or revoke each membership; a revoke ends the membership at once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import authorization
from accounts.models import (
    AccessReviewCampaign,
    AccessReviewItem,
    AccessReviewReminder,
    ApprovalRequest,
    Membership,
    Organization,
    Role,
    User,
)
from accounts.services.memberships import membership_role_change
from accounts.services.termination import membership_end
from cloudexpress.api.exceptions import ServiceError

logger = logging.getLogger(__name__)

REVIEW_DURATION = timedelta(days=30)
# Privileged roles are reviewed first: they matter most to an auditor.
KIND_ORDER: dict[str, int] = {
    Role.Kind.OWNER: 0,
    Role.Kind.ADMIN: 1,
    Role.Kind.AUDITOR: 2,
    Role.Kind.CUSTOM: 3,
    Role.Kind.MEMBER: 4,
}


def quarter_slot(moment: datetime) -> str:
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def reminder_window(moment: datetime) -> str:
    """The ISO week: reminders go out once a week while items stay open."""
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


@transaction.atomic
def access_review_campaign_start(
    *,
    organization: Organization,
    started_by: User | None = None,
    slot: str = "",
    name: str = "",
    duration: timedelta = REVIEW_DURATION,
) -> tuple[AccessReviewCampaign, bool]:
    """Start a campaign with one item per active membership, privileged roles
    first. A campaign for a slot is started once; return it and whether it
    was created now."""
    if started_by is not None:
        authorization.permission_require(started_by, "access_reviews.manage", organization)
    if slot:
        existing = AccessReviewCampaign.objects.filter(
            organization=organization, slot=slot
        ).first()
        if existing is not None:
            return existing, False

    now = timezone.now()
    try:
        with transaction.atomic():
            campaign = AccessReviewCampaign.objects.create(
                organization=organization,
                name=name or f"Access review {slot or now.date().isoformat()}",
                slot=slot,
                started_by=started_by,
                due_at=now + duration,
            )
    except IntegrityError:
        # Another worker started the same slot a moment ago.
        return AccessReviewCampaign.objects.get(organization=organization, slot=slot), False

    memberships = list(
        Membership.objects.filter(organization=organization, status=Membership.Status.ACTIVE)
        .select_related("role", "user")
        .order_by("user__email")
    )
    memberships.sort(key=lambda m: KIND_ORDER.get(m.role.kind, 5))
    AccessReviewItem.objects.bulk_create(
        AccessReviewItem(
            campaign=campaign,
            membership=membership,
            role=membership.role,
            role_name=membership.role.name,
            privileged=membership.role.kind in authorization.PRIVILEGED_KINDS,
            position=position,
        )
        for position, membership in enumerate(memberships)
    )
    logger.info(
        "access_review.started",
        extra={"campaign_id": campaign.pk, "items": len(memberships), "slot": slot},
    )
    return campaign, True


@transaction.atomic
def access_review_item_decide(
    *,
    item: AccessReviewItem,
    reviewer: User,
    decision: str,
    new_role: Role | None = None,
    note: str = "",
    expires_at: datetime | None = None,
) -> AccessReviewItem:
    """Keep, change or revoke one membership. Nobody reviews their own."""
    locked = (
        AccessReviewItem.objects.select_for_update(of=("self",))
        .select_related("campaign__organization", "membership__user", "membership__organization")
        .get(pk=item.pk)
    )
    campaign = locked.campaign
    if locked.membership.user_id == reviewer.pk:
        authorization.permission_denied_record(
            reviewer, "access_reviews.decide", campaign.organization_id, locked
        )
        raise ServiceError(
            "Nobody reviews their own access: another reviewer must decide this item.",
            code="review_self",
            status_code=403,
        )
    authorization.permission_require(
        reviewer, "access_reviews.decide", campaign.organization, locked
    )
    if campaign.status != AccessReviewCampaign.Status.OPEN:
        raise ServiceError("This campaign is closed.", code="review_closed", status_code=409)
    if locked.decision != AccessReviewItem.Decision.PENDING:
        raise ServiceError(
            "This item is already decided.", code="review_item_decided", status_code=409
        )
    if decision not in (
        AccessReviewItem.Decision.KEEP,
        AccessReviewItem.Decision.CHANGE,
        AccessReviewItem.Decision.REVOKE,
    ):
        raise ServiceError("Decide keep, change or revoke.", code="invalid_decision")

    reason = f"{campaign.name}: {note}".strip().rstrip(":")
    if decision == AccessReviewItem.Decision.CHANGE:
        if new_role is None:
            raise ServiceError("Choose the new role.", code="new_role_required")
        outcome = membership_role_change(
            membership=locked.membership,
            role=new_role,
            actor=reviewer,
            expires_at=expires_at,
            reason=reason,
        )
        if isinstance(outcome, ApprovalRequest):
            note = f"{note} (awaiting approval {outcome.public_id})".strip()
        locked.new_role = new_role
    elif decision == AccessReviewItem.Decision.REVOKE:
        membership_end(membership=locked.membership, by=reviewer, reason=reason)

    locked.decision = decision
    locked.note = note
    locked.decided_by = reviewer
    locked.decided_at = timezone.now()
    locked.save(update_fields=["decision", "new_role", "note", "decided_by", "decided_at"])

    pending = campaign.items.filter(decision=AccessReviewItem.Decision.PENDING).exists()
    if not pending:
        AccessReviewCampaign.objects.filter(pk=campaign.pk).update(
            status=AccessReviewCampaign.Status.COMPLETED, completed_at=timezone.now()
        )
        logger.info("access_review.completed", extra={"campaign_id": campaign.pk})
    return locked


def access_reviews_quarter_start(*, now: datetime | None = None) -> dict[str, int]:
    """Start this quarter's campaign in every organization that has none.
    Keyed by the quarter: a second run in the same quarter starts nothing."""
    now = now or timezone.now()
    slot = quarter_slot(now)
    started = 0
    for organization in Organization.objects.order_by("pk"):
        _, created = access_review_campaign_start(organization=organization, slot=slot)
        started += int(created)
    return {"slot_started": started}


def _reviewers(organization: Organization) -> list[User]:
    """Everyone who may decide items there now."""
    memberships = Membership.objects.filter(
        organization=organization, status=Membership.Status.ACTIVE
    ).select_related("user")
    return [
        m.user
        for m in memberships
        if "access_reviews.manage" in authorization.user_permissions(m.user, organization)
    ]


def access_review_reminders_send(*, now: datetime | None = None) -> int:
    """Remind the reviewers of every open campaign with open items, once per
    window; return how many campaigns were reminded."""
    now = now or timezone.now()
    window = reminder_window(now)
    sent = 0
    campaigns = AccessReviewCampaign.objects.filter(
        status=AccessReviewCampaign.Status.OPEN
    ).select_related("organization")
    for campaign in campaigns:
        open_items = campaign.items.filter(decision=AccessReviewItem.Decision.PENDING).count()
        if not open_items:
            continue
        try:
            with transaction.atomic():
                reminder = AccessReviewReminder.objects.create(
                    campaign=campaign, window=window, open_items=open_items
                )
        except IntegrityError:
            continue  # already reminded in this window
        recipients = [u.email for u in _reviewers(campaign.organization)]
        if recipients:
            send_mail(
                subject=f"{campaign.name}: {open_items} items to review",
                message=(
                    f"{open_items} memberships of {campaign.organization.name} await your "
                    f"review, due {campaign.due_at:%Y-%m-%d}."
                ),
                from_email=None,
                recipient_list=recipients,
            )
        AccessReviewReminder.objects.filter(pk=reminder.pk).update(recipients=len(recipients))
        sent += 1
    logger.info("access_review.reminders_sent", extra={"campaigns": sent, "window": window})
    return sent
