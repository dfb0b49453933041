"""Data-quality checks flag invalid and stale contact data for correction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from compliance.privacy.quality import contact_data_findings
from tests import factories

pytestmark = pytest.mark.django_db


def test_invalid_and_stale_contact_data_is_flagged_and_fresh_data_is_not() -> None:
    now = timezone.now()
    fresh = factories.UserFactory(last_login=now - timedelta(days=3))
    stale = factories.UserFactory(last_login=now - timedelta(days=400))
    never = factories.UserFactory(date_joined=now - timedelta(days=500))
    invalid = factories.UserFactory(last_login=now)
    User.objects.filter(pk=invalid.pk).update(email="not an address")
    factories.UserFactory(last_login=now - timedelta(days=900), terminated_at=now)

    findings = {(f.user_public_id, f.problem) for f in contact_data_findings(now=now)}

    assert findings == {
        (str(stale.public_id), "stale"),
        (str(never.public_id), "stale"),
        (str(invalid.public_id), "invalid_email"),
    }
    assert not any(f[0] == str(fresh.public_id) for f in findings)

    # Corrected, the finding goes away.
    User.objects.filter(pk=invalid.pk).update(email="fixed@example.test")
    assert (str(invalid.public_id), "invalid_email") not in {
        (f.user_public_id, f.problem) for f in contact_data_findings(now=now)
    }
