"""Detection and response: risk scoring, rules, alerts, containment,
incidents, notifications and event ingest.

Events are read from ``audit.SecurityEvent`` and recorded through
``audit.services.security_event_record`` (or, for bulk ingest, through
``audit.detection.ingest`` which chains rows with ``audit.chain``).
"""
