"""The chain check against rows the audit trail really writes."""

from __future__ import annotations

import pytest

from accounts.models import Organization
from audit.models import AuditLogEntry, SecurityEvent
from audit.services import security_event_record
from compliance.checks import registry
from compliance.checks.audit_trail import chain_verify
from compliance.models import ResultStatus

pytestmark = pytest.mark.django_db


def test_a_tampered_event_is_named_by_its_sequence_number() -> None:
    for _ in range(5):
        security_event_record(event_type=SecurityEvent.Type.SIGN_IN_FAILED)
    assert chain_verify(SecurityEvent) == {"rows": 5, "breaks": 0, "first_break": None}
    SecurityEvent.objects.filter(seq=3).update(event_type=SecurityEvent.Type.SIGN_IN_SUCCEEDED)
    report = chain_verify(SecurityEvent)
    assert (
        report["first_break"] == "audit.SecurityEvent seq 3: its content does not match its hash"
    )


def test_a_removed_middle_row_is_found() -> None:
    for _ in range(4):
        security_event_record(event_type=SecurityEvent.Type.SIGN_IN_FAILED)
    SecurityEvent.objects.filter(seq=2).delete()
    report = chain_verify(SecurityEvent)
    assert report["breaks"] >= 1
    assert "seq 3" in report["first_break"]


def test_an_audited_model_change_verifies() -> None:
    Organization.objects.create(name="Audited", slug="audited")
    assert AuditLogEntry.objects.exists()
    outcome = registry.evaluate(registry.get("cc-audit-chain")).outcome
    assert outcome.status == ResultStatus.PASS, outcome.failing
