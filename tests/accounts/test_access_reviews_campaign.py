"""An access-review campaign end to end: started by beat once per quarter,
privileged roles first, reviewers never the member, revoke ends access,
reminders once per window, completion read by the compliance engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import AccessReviewCampaign, AccessReviewItem, Membership, Role, UserSession
from accounts.selectors import access_review_last_completion
from accounts.services import access_review_item_decide, access_review_reminders_send
from accounts.tasks import START_JOB, access_review_start_task
from cloudexpress.api.exceptions import ServiceError
from compliance.models import JobRun
from tests.accounts.access_helpers import builtin, member, organization

pytestmark = pytest.mark.django_db

QUARTER_START = datetime(2026, 10, 2, 3, 0, tzinfo=UTC)


def test_campaign_end_to_end_with_a_revoke() -> None:
    org = organization()
    owner = member(org, "owner").user
    admin = member(org, "admin").user
    leaver = member(org).user
    stayer = member(org).user
    auditor = member(org, "auditor", expires_at=QUARTER_START + timedelta(days=60)).user
    leaver_client = Client()
    leaver_client.force_login(leaver)
    assert leaver_client.get(f"/orgs/{org.slug}/members").status_code == 200

    with time_machine.travel(QUARTER_START, tick=False):
        assert access_review_start_task.apply().get() == {"slot_started": 1}
        # Beat runs daily: the second run in the quarter starts nothing.
        assert access_review_start_task.apply().get() == {"slot_started": 0}
    campaign = AccessReviewCampaign.objects.get(organization=org)
    assert campaign.slot == "2026-Q4"
    assert JobRun.objects.filter(job=START_JOB, slot="2026-Q4").count() == 1

    items = list(campaign.items.select_related("membership__user").order_by("position"))
    assert [i.role_name for i in items] == ["Owner", "Admin", "Auditor", "Member", "Member"]
    assert [i.privileged for i in items] == [True, True, True, False, False]
    by_user = {i.membership.user_id: i for i in items}

    # Nobody reviews their own access.
    with pytest.raises(ServiceError) as own:
        access_review_item_decide(item=by_user[admin.pk], reviewer=admin, decision="keep")
    assert own.value.get_codes() == "review_self"
    # A member cannot review at all.
    with pytest.raises(ServiceError) as plain:
        access_review_item_decide(item=by_user[leaver.pk], reviewer=stayer, decision="keep")
    assert plain.value.get_codes() == "permission_denied"

    access_review_item_decide(item=by_user[owner.pk], reviewer=admin, decision="keep")
    access_review_item_decide(item=by_user[admin.pk], reviewer=owner, decision="keep")
    access_review_item_decide(item=by_user[auditor.pk], reviewer=owner, decision="keep")
    access_review_item_decide(item=by_user[stayer.pk], reviewer=admin, decision="keep")
    assert access_review_last_completion(org).completion == pytest.approx(4 / 5)

    # Revoke over the API, as a reviewer would.
    api = APIClient()
    api.force_authenticate(admin)
    response = api.post(
        f"/api/orgs/{org.slug}/access-reviews/{campaign.public_id}/items/"
        f"{by_user[leaver.pk].public_id}/decide",
        {"decision": "revoke", "note": "left the team"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["decision"] == "revoke"

    membership = Membership.objects.get(user=leaver, organization=org)
    assert membership.status == Membership.Status.REVOKED
    assert membership.revoked_by == admin
    assert "left the team" in membership.revoked_reason
    assert UserSession.objects.filter(user=leaver).count() == 0
    assert leaver_client.get(f"/orgs/{org.slug}/members").status_code == 302

    campaign.refresh_from_db()
    assert campaign.status == AccessReviewCampaign.Status.COMPLETED
    completion = access_review_last_completion(org)
    assert completion.completion == 1.0
    assert completion.revoked == 1
    assert completion.items == 5
    assert completion.completed_campaigns == 1


def test_change_decision_to_a_plain_role_applies_at_once() -> None:
    org = organization()
    owner = member(org, "owner").user
    admin_membership = member(org, "admin")
    campaign_item = _start(org).items.get(membership=admin_membership)
    access_review_item_decide(
        item=campaign_item, reviewer=owner, decision="change", new_role=builtin("member")
    )
    admin_membership.refresh_from_db()
    assert admin_membership.role.kind == Role.Kind.MEMBER


def _start(org):
    from accounts.services import access_review_campaign_start

    campaign, created = access_review_campaign_start(organization=org)
    assert created
    return campaign


def test_reminders_go_out_once_per_window() -> None:
    org = organization()
    owner = member(org, "owner").user
    member(org)
    with time_machine.travel(QUARTER_START, tick=False):
        _start(org)
        assert access_review_reminders_send() == 1
        assert access_review_reminders_send() == 0
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [owner.email]
    with time_machine.travel(QUARTER_START + timedelta(days=7), tick=False):
        assert access_review_reminders_send() == 1
    assert len(mail.outbox) == 2


def test_no_reminder_when_every_item_is_decided() -> None:
    org = organization()
    owner = member(org, "owner").user
    other_owner = member(org, "owner").user
    campaign = _start(org)
    for item in campaign.items.all():
        reviewer = other_owner if item.membership.user_id == owner.pk else owner
        access_review_item_decide(item=item, reviewer=reviewer, decision="keep")
    assert access_review_reminders_send() == 0
    assert mail.outbox == []


def test_completion_across_organizations_reads_each_latest_campaign() -> None:
    assert access_review_last_completion().completion is None
    first, second = organization(), organization()
    owner = member(first, "owner").user
    member(first)
    member(second, "owner")
    campaign = _start(first)
    _start(second)
    item = campaign.items.exclude(membership__user=owner).get()
    access_review_item_decide(item=item, reviewer=owner, decision="keep")
    completion = access_review_last_completion()
    assert (completion.campaigns, completion.items, completion.decided) == (2, 3, 1)
    assert completion.completion == pytest.approx(1 / 3)


def test_decided_item_cannot_be_decided_again() -> None:
    org = organization()
    owner = member(org, "owner").user
    member(org)
    item = _start(org).items.exclude(membership__user=owner).get()
    access_review_item_decide(item=item, reviewer=owner, decision="keep")
    with pytest.raises(ServiceError) as again:
        access_review_item_decide(
            item=AccessReviewItem.objects.get(pk=item.pk), reviewer=owner, decision="revoke"
        )
    assert again.value.get_codes() == "review_item_decided"
