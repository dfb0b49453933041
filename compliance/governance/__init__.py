"""Governance registers: policies, training, vendors, risks, changes,
continuity and internal audits, with their checks and reminders."""
