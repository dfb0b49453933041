"""The data inventory: every personal field the portal holds, with its
purpose, legal basis and retention, and its review on a schedule.

``inventory_uncovered`` walks the models and names personal-looking fields
missing here (a test and the check ``p-inventory-reviewed`` both use it).
The review is an attestation of control CX-PRV-03 whose statement names the
digest of the inventory it covers (``inventory_review_attest``), reviewed by
a second person and valid for ``REVIEW_DAYS``: a changed inventory needs a
new review. A daily beat job (``compliance.privacy_inventory_review_remind``)
reminds the last reviewer, or the operator's owners and admins, a month
before the review falls due and every day once it is overdue.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.db import models
from django.utils import timezone

from compliance.models import Attestation, DataType

logger = logging.getLogger(__name__)

CONTROL = "CX-PRV-03"
REVIEW_DAYS = 365
REMIND_DAYS = 30
DIGEST_PREFIX = "inventory sha256:"


@dataclass(frozen=True)
class PersonalField:
    field: str
    purpose: str
    legal_basis: str
    retention: str


INVENTORY: tuple[PersonalField, ...] = (
    PersonalField("accounts.User.email", "sign-in and notices", "contract", DataType.USER_DATA),
    PersonalField("accounts.User.full_name", "display", "contract", DataType.USER_DATA),
    PersonalField(
        "accounts.User.terminated_reason",
        "offboarding record",
        "legal obligation",
        DataType.USER_DATA,
    ),
    PersonalField(
        "accounts.UserSession.ip", "session security", "legitimate interest", DataType.USER_DATA
    ),
    PersonalField(
        "accounts.UserSession.user_agent",
        "session security",
        "legitimate interest",
        DataType.USER_DATA,
    ),
    PersonalField(
        "audit.AuditLogEntry.remote_addr",
        "accountability",
        "legal obligation",
        DataType.AUDIT_LOGS,
    ),
    PersonalField(
        "audit.AuditLogEntry.user_agent", "accountability", "legal obligation", DataType.AUDIT_LOGS
    ),
    PersonalField(
        "audit.AuditLogEntry.actor_email",
        "accountability",
        "legal obligation",
        DataType.AUDIT_LOGS,
    ),
    PersonalField(
        "audit.AuditLogEntry.changes", "accountability", "legal obligation", DataType.AUDIT_LOGS
    ),
    PersonalField(
        "audit.AuditLogEntry.object_repr",
        "accountability",
        "legal obligation",
        DataType.AUDIT_LOGS,
    ),
    PersonalField(
        "audit.SecurityEvent.ip",
        "security monitoring",
        "legitimate interest",
        DataType.SECURITY_EVENTS,
    ),
    PersonalField(
        "audit.SecurityEvent.user_agent",
        "security monitoring",
        "legitimate interest",
        DataType.SECURITY_EVENTS,
    ),
    PersonalField(
        "audit.SecurityEvent.detail",
        "security monitoring",
        "legitimate interest",
        DataType.SECURITY_EVENTS,
    ),
    PersonalField(
        "accounts.Invitation.email",
        "sending an invitation to join an organization",
        "legitimate interest",
        DataType.USER_DATA,
    ),
    # Disaster-recovery contacts: named people reached during an incident;
    # kept while the plan lists them, removed when the plan is edited.
    PersonalField(
        "compliance.EmergencyContact.phone",
        "reaching the person during a disaster recovery",
        "legitimate interest",
        "while listed in the recovery plan",
    ),
    PersonalField(
        "compliance.EmergencyContact.email",
        "reaching the person during a disaster recovery",
        "legitimate interest",
        "while listed in the recovery plan",
    ),
)

# Field names that hold personal data wherever they appear.
PERSONAL_NAMES = ("email", "full_name", "ip", "remote_addr", "user_agent", "phone", "address")


def inventory_fields() -> set[str]:
    return {entry.field for entry in INVENTORY}


def inventory_digest() -> str:
    """SHA-256 of the inventory as listed: what a review attests to."""
    digest = hashlib.sha256()
    for entry in sorted(INVENTORY, key=lambda e: e.field):
        line = "\t".join((entry.field, entry.purpose, entry.legal_basis, str(entry.retention)))
        digest.update(line.encode() + b"\n")
    return digest.hexdigest()


def inventory_uncovered() -> list[str]:
    """Personal-looking fields of the portal's models that the inventory
    does not list."""
    listed = inventory_fields()
    missing = []
    for model in apps.get_models():
        if model._meta.app_label not in {"accounts", "audit", "compliance"}:
            continue
        for field in model._meta.concrete_fields:
            # A flag named like a personal field (NotificationPreference.email:
            # "send by e-mail") holds no personal data; any other type counts.
            if isinstance(field, models.BooleanField):
                continue
            if field.name in PERSONAL_NAMES:
                label = f"{model._meta.app_label}.{model.__name__}.{field.name}"
                if label not in listed:
                    missing.append(label)
    return sorted(missing)


def _inventory_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["field", "purpose", "legal basis", "retention"])
    for entry in INVENTORY:
        writer.writerow([entry.field, entry.purpose, entry.legal_basis, entry.retention])
    return out.getvalue().encode()


def inventory_review_attest(*, attested_by: Any, note: str = "") -> Attestation:
    """Attest that the inventory as it stands was reviewed; a second person
    then reviews the attestation (``attestations.attestation_review``)."""
    from compliance import attestations
    from compliance.catalog import catalog_ensure
    from compliance.models import Control

    catalog_ensure()
    now = timezone.now()
    return attestations.attestation_create(
        control=Control.objects.get(code=CONTROL),
        upload=_inventory_csv(),
        file_name=f"data-inventory-{now:%Y%m%d}.csv",
        statement=f"Data inventory reviewed. {DIGEST_PREFIX}{inventory_digest()}. {note}".strip(),
        attested_by=attested_by,
        expires_at=now + timedelta(days=REVIEW_DAYS),
    )


@dataclass(frozen=True)
class ReviewStatus:
    attestation_id: int | None
    reviewed_at: datetime | None
    due_at: datetime | None
    covers_current: bool

    def overdue(self, now: datetime) -> bool:
        return self.due_at is None or self.due_at <= now or not self.covers_current


def inventory_review_status(*, now: datetime) -> ReviewStatus:
    """The latest reviewed, unexpired attestation of the inventory review."""
    latest = (
        Attestation.objects.filter(
            control__code=CONTROL, reviewed_at__isnull=False, expires_at__gt=now
        )
        .order_by("-reviewed_at")
        .values_list("pk", "reviewed_at", "expires_at", "statement")
        .first()
    )
    if latest is None:
        return ReviewStatus(None, None, None, False)
    pk, reviewed_at, expires_at, statement = latest
    assert reviewed_at is not None  # filtered above
    due_at: datetime = min(expires_at, reviewed_at + timedelta(days=REVIEW_DAYS))
    return ReviewStatus(
        pk, reviewed_at, due_at, f"{DIGEST_PREFIX}{inventory_digest()}" in statement
    )


def inventory_review_remind(*, now: datetime | None = None) -> int:
    """Remind of a review due within ``REMIND_DAYS`` or overdue; return how
    many people were notified. Once a day at most (the dedup key is the day)."""
    from accounts.models import Membership, Role
    from audit.detection.notifications import notification_send
    from audit.models import Notification

    now = now or timezone.now()
    status = inventory_review_status(now=now)
    if status.due_at is not None and status.covers_current:
        if status.due_at - now > timedelta(days=REMIND_DAYS):
            return 0
    recipients: list[int] = []
    if status.attestation_id is not None:
        recipients = list(
            Attestation.objects.filter(pk=status.attestation_id).values_list(
                "attested_by_id", flat=True
            )
        )
    if not recipients:
        recipients = list(
            Membership.objects.filter(
                organization__is_operator=True,
                status=Membership.Status.ACTIVE,
                role__kind__in=[Role.Kind.OWNER, Role.Kind.ADMIN],
            ).values_list("user_id", flat=True)
        )
    overdue = status.overdue(now)
    sent = notification_send(
        recipients=recipients,
        kind=Notification.Kind.REMINDER,
        title="Data inventory review overdue" if overdue else "Data inventory review due soon",
        body=(
            "Review the personal-data inventory (purpose and legal basis of each field) "
            "and attest it under control CX-PRV-03."
        ),
        dedup_key=f"privacy-inventory-review:{now.date().isoformat()}",
    )
    logger.info("privacy.inventory_review_reminded", extra={"overdue": overdue, "sent": len(sent)})
    return len(sent)
