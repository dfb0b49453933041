"""Models of the audit app, one module per concept."""

from audit.models.trail import AuditLogEntry, ChainedRow, SecurityEvent

__all__ = ["AuditLogEntry", "ChainedRow", "SecurityEvent"]
