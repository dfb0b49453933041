"""Models of the audit app, one module per concept."""

from audit.models.anchors import Anchor, ChainHead
from audit.models.trail import AuditLogEntry, ChainedRow, SecurityEvent

__all__ = ["Anchor", "ChainHead", "AuditLogEntry", "ChainedRow", "SecurityEvent"]
