"""Event types detection knows about, and the base risk of each.

Types beyond ``SecurityEvent.Type`` are stored as plain strings: the column
is a CharField whose choices are validated by forms only, so adding them here
needs no migration of the event table.
"""

from __future__ import annotations

from audit.models import SecurityEvent

T = SecurityEvent.Type

SSH_DISCONNECTED = "ssh.disconnected"
HOST_SUDO = "host.sudo"
HOST_PASSWORD_CHANGED = "host.password_changed"
CONTAINMENT_IP_BLOCKED = "containment.ip_blocked"
CONTAINMENT_REVERSED = "containment.reversed"
ALERT_STATUS_CHANGED = "alert.status_changed"
INCIDENT_CHANGED = "incident.changed"

EXTRA_TYPES: dict[str, str] = {
    SSH_DISCONNECTED: "SSH session disconnected",
    HOST_SUDO: "Host command run with sudo",
    HOST_PASSWORD_CHANGED: "Host account password changed",
    CONTAINMENT_IP_BLOCKED: "Source address blocked by containment",
    CONTAINMENT_REVERSED: "Containment step reversed",
    ALERT_STATUS_CHANGED: "Alert status changed",
    INCIDENT_CHANGED: "Incident changed",
}

KNOWN_TYPES: frozenset[str] = frozenset(T.values) | frozenset(EXTRA_TYPES)

# Failed authentications, counted by the brute-force and spraying rules.
FAILURE_TYPES: frozenset[str] = frozenset({T.SIGN_IN_FAILED, T.SSH_FAILED, T.MFA_FAILED})
# Successful authentications: the only events the per-user model learns from.
SUCCESS_TYPES: frozenset[str] = frozenset({T.SIGN_IN_SUCCEEDED, T.SSH_ACCEPTED, T.API_KEY_USED})
# Attempts the per-user model scores (learned from or not).
SCORED_ATTEMPT_TYPES: frozenset[str] = (
    FAILURE_TYPES | SUCCESS_TYPES | frozenset({T.SSH_INVALID_USER, T.TOKEN_ISSUED})
)
# What an attacker does once in: the second half of the sequence rules.
SENSITIVE_ACTION_TYPES: frozenset[str] = frozenset(
    {
        T.DATA_EXPORTED,
        T.ROLE_GRANTED,
        T.API_KEY_CREATED,
        T.PASSWORD_CHANGED,
        T.MFA_REMOVED,
        T.SETTINGS_CHANGED,
        T.EVIDENCE_DOWNLOADED,
        T.DATA_ERASED,
    }
)

# Base risk by stored severity; the anomaly and threat points come on top.
SEVERITY_BASE: dict[str, int] = {
    SecurityEvent.Severity.INFO: 5,
    SecurityEvent.Severity.LOW: 15,
    SecurityEvent.Severity.MEDIUM: 35,
    SecurityEvent.Severity.HIGH: 60,
    SecurityEvent.Severity.CRITICAL: 80,
}


def type_label(event_type: str) -> str:
    try:
        return str(T(event_type).label)
    except ValueError:
        return EXTRA_TYPES.get(event_type, event_type)
