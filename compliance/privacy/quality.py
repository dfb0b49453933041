"""Data-quality checks on contact data: what must be corrected, and by whom.

An address is invalid when it fails Django's e-mail validation; contact data
is stale when an active person has not signed in (or, never having signed
in, joined) for longer than STALE_AFTER. Erased and terminated people are not
reported: their data is not used to contact anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from compliance.privacy.gdpr import ERASED_DOMAIN

STALE_AFTER = timedelta(days=365)


@dataclass(frozen=True)
class ContactFinding:
    user_public_id: str
    problem: str  # "invalid_email" or "stale"


def contact_data_findings(*, now: datetime | None = None) -> list[ContactFinding]:
    """Return every active person whose contact data needs correcting."""
    now = now or timezone.now()
    findings: list[ContactFinding] = []
    people = User.objects.filter(is_active=True, terminated_at=None).exclude(
        email__endswith="@" + ERASED_DOMAIN
    )
    stale_before = now - STALE_AFTER
    stale = set(
        people.filter(
            Q(last_login__lt=stale_before) | Q(last_login=None, date_joined__lt=stale_before)
        ).values_list("public_id", flat=True)
    )
    for public_id, email in people.values_list("public_id", "email").iterator(chunk_size=2000):
        try:
            validate_email(email)
        except ValidationError:
            findings.append(ContactFinding(str(public_id), "invalid_email"))
        if public_id in stale:
            findings.append(ContactFinding(str(public_id), "stale"))
    return findings
