"""Models of the audit app, one module per concept."""

from audit.models.anchors import Anchor, ChainHead
from audit.models.detection import (
    Alert,
    AlertEvent,
    BlockedAddress,
    ContainmentAction,
    DetectionCursor,
    Incident,
    IncidentCommunication,
    IncidentEventLink,
    IncidentPhase,
    IngestedLine,
    Notification,
    NotificationPreference,
    SignInProfileEntry,
    ThreatIndicator,
)
from audit.models.trail import AuditLogEntry, ChainedRow, SecurityEvent

__all__ = [
    "Anchor",
    "ChainHead",
    "Alert",
    "AlertEvent",
    "AuditLogEntry",
    "BlockedAddress",
    "ChainedRow",
    "ContainmentAction",
    "DetectionCursor",
    "Incident",
    "IncidentCommunication",
    "IncidentEventLink",
    "IncidentPhase",
    "IngestedLine",
    "Notification",
    "NotificationPreference",
    "SecurityEvent",
    "SignInProfileEntry",
    "ThreatIndicator",
]
