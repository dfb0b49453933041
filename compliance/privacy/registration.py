"""Hooks the privacy package installs at start: what auditlog follows, and
the Celery tasks (which live in this package, not in compliance/tasks.py)."""

from __future__ import annotations


def register() -> None:
    from auditlog.registry import auditlog

    from compliance.models import (
        ConsentPurpose,
        ConsentPurposeVersion,
        DataSubjectRequest,
        EncryptionKey,
        LegalHold,
        PrivacyNotice,
        RetentionPolicy,
    )
    from compliance.privacy import admin, tasks  # noqa: F401  (registers admin pages and tasks)
    from compliance.privacy.gdpr import erasure_approval_register

    erasure_approval_register()

    for model in (
        RetentionPolicy,
        LegalHold,
        ConsentPurpose,
        ConsentPurposeVersion,
        PrivacyNotice,
        # A request's status and deadline are what an auditor samples.
        DataSubjectRequest,
        # When a key was created, activated and retired: the rotation trail.
        EncryptionKey,
    ):
        if not auditlog.contains(model):
            auditlog.register(model)
