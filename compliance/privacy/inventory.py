"""The data inventory: every personal field the portal holds, with its
purpose, legal basis and retention. A test walks the models and fails when a
personal-looking field is missing here.

TODO(privacy): schedule the inventory review (an attestation with an
owner and an expiry) once the attestation model of the compliance engine
exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from compliance.models import DataType


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
