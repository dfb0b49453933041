"""seed_demo leaves a demo with an access review, an invitation, an approval
request and an auditor whose access ends; running it twice changes nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import (
    AccessReviewCampaign,
    ApprovalRequest,
    Invitation,
    Membership,
    Role,
)

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_the_access_workflows_once() -> None:
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())
    assert AccessReviewCampaign.objects.count() == 1
    assert Invitation.objects.filter(status=Invitation.Status.PENDING).count() == 1
    assert ApprovalRequest.objects.filter(status=ApprovalRequest.Status.PENDING).count() == 1
    auditor = Membership.objects.get(role__kind=Role.Kind.AUDITOR)
    assert auditor.expires_at is not None
