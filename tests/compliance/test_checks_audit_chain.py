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
    report = chain_verify(SecurityEvent)
    assert (report["rows"], report["breaks"], report["first_break"]) == (5, 0, None)
    assert (report["first_seq"], report["last_seq"]) == (1, 5)
    SecurityEvent.objects.filter(seq=3).update(event_type=SecurityEvent.Type.SIGN_IN_SUCCEEDED)
    report = chain_verify(SecurityEvent)
    assert report["breaks"] == 1
    assert report["first_break"].startswith("audit.SecurityEvent row seq=3 ")
    assert report["first_break"].endswith("content does not match its hash")


def test_a_removed_middle_row_is_found() -> None:
    for _ in range(4):
        security_event_record(event_type=SecurityEvent.Type.SIGN_IN_FAILED)
    SecurityEvent.objects.filter(seq=2).delete()
    report = chain_verify(SecurityEvent)
    assert report["breaks"] == 1
    assert "row seq=3 " in report["first_break"]
    assert "expected seq 2" in report["first_break"]


def test_an_audited_model_change_verifies() -> None:
    Organization.objects.create(name="Audited", slug="audited")
    assert AuditLogEntry.objects.exists()
    outcome = registry.evaluate(registry.get("cc-audit-chain")).outcome
    assert outcome.status == ResultStatus.PASS, outcome.failing


def test_an_edit_of_an_old_row_that_keeps_its_hash_fails_the_next_run() -> None:
    """Why every run re-hashes the whole chain: an in-place edit of an
    already verified row keeps every link and anchor intact."""
    from audit.services import audit_anchor_create

    for _ in range(6):
        security_event_record(event_type=SecurityEvent.Type.SIGN_IN_FAILED)
    audit_anchor_create()
    check = registry.get("cc-audit-chain")
    assert registry.evaluate(check).outcome.status == ResultStatus.PASS
    security_event_record(event_type=SecurityEvent.Type.SIGN_IN_FAILED)

    # Row 2 was verified by the first run and sits below the anchor.
    SecurityEvent.objects.filter(seq=2).update(severity=SecurityEvent.Severity.CRITICAL)
    outcome = registry.evaluate(check).outcome
    assert outcome.status == ResultStatus.FAIL
    assert any("row seq=2 " in item for item in outcome.failing), outcome.failing


def test_the_chain_check_runs_the_same_queries_whatever_the_length() -> None:
    check = registry.get("cc-audit-chain")
    for _ in range(3):
        security_event_record(event_type=SecurityEvent.Type.SIGN_IN_FAILED)
    short = registry.evaluate(check)
    for _ in range(40):
        security_event_record(event_type=SecurityEvent.Type.SIGN_IN_FAILED)
    long = registry.evaluate(check)
    assert short.outcome.status == long.outcome.status == ResultStatus.PASS
    assert short.query_count == long.query_count
