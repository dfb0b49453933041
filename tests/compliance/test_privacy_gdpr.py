"""GDPR export and erasure: every section exported, then erased so that no
text or JSON column of any table (from the database's own catalog) still
holds the person's e-mail, name or addresses, while the audit records stay
and their chain verifies."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from accounts.auth.apikeys import api_key_create
from accounts.auth.mfa import backup_codes_generate
from accounts.models import ApiKey, ApprovalRequest, BackupCode, TOTPDevice, User, UserSession
from accounts.services.approvals import approval_approve, approval_refuse
from audit.models import AuditLogEntry, SecurityEvent
from audit.services import security_event_record
from cloudexpress import requestcontext
from compliance.models import (
    ConsentRecord,
    DataSubjectRequest,
    DataType,
    DeletionCertificate,
)
from compliance.privacy import consent, gdpr
from compliance.privacy.holds import legal_hold_place
from compliance.privacy.profile import profile_correct
from tests import factories
from tests.compliance.privacy_support import assert_chain_verifies, operator_member

pytestmark = pytest.mark.django_db

EMAIL = "zelda.quixote-erasure@example.test"
FORMER_EMAIL = "zq.former-address@example.test"
NAME = "Zelda Quixotic-Erasure"
IPS = ("203.0.113.77", "2001:db8::7777")


@pytest.fixture
def privacy_officer(db) -> User:
    return operator_member("admin")


@pytest.fixture
def subject(db) -> User:
    """A person with data in every section the export names."""
    with requestcontext.bind(requestcontext.RequestContext("req-subject-0001", IPS[0], "Agent/1")):
        person = factories.UserFactory(email=FORMER_EMAIL, full_name=NAME)
        requestcontext.set_actor(person.pk)
        profile_correct(user=person, full_name=NAME, email=EMAIL)
    membership = factories.MembershipFactory(user=person)
    UserSession.objects.create(
        session_key="s" * 32,
        session_data="",
        expire_date=timezone.now() + timedelta(hours=1),
        user=person,
        ip=IPS[1],
        user_agent="SubjectBrowser/2.0",
    )
    security_event_record(
        event_type=SecurityEvent.Type.SIGN_IN_SUCCEEDED,
        actor=person,
        ip=IPS[0],
        user_agent="SubjectBrowser/2.0",
        detail={"email": EMAIL, "note": f"welcome {NAME}"},
    )
    security_event_record(
        event_type=SecurityEvent.Type.SIGN_IN_FAILED,
        target_user=person,
        ip=IPS[1],
        detail={"username": EMAIL},
    )
    consent.consent_purpose_publish(code="product-news", name="Product news", text="We write.")
    consent.consent_record(user=person, purpose_code="product-news", decision="granted")
    notice = consent.privacy_notice_publish(text="v1", summary_of_changes="first")
    consent.privacy_notice_acknowledge(user=person, notice=notice)
    # Credentials: a second factor with backup codes, an API key last used
    # from one of the person's addresses, and an approval nobody decided.
    device = TOTPDevice.objects.create(user=person, name="phone", confirmed=True)
    backup_codes_generate(user_id=person.pk)
    issued = api_key_create(
        user=person,
        organization=membership.organization,
        name="laptop",
        scopes=["org.view"],
        created_by=person,
    )
    ApiKey.objects.filter(pk=issued.key.pk).update(last_used_ip=IPS[0])
    ApprovalRequest.objects.create(
        organization=membership.organization,
        kind=ApprovalRequest.Kind.ROLE_GRANT,
        requested_by=person,
        summary="grant admin",
    )
    assert membership.pk and device.pk
    return person


def _export(api_client, subject: User) -> list[dict]:
    response = api_client.get(f"/api/compliance/gdpr/export/{subject.public_id}")
    assert response.status_code == 200, response.content
    assert response.streaming
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["X-Data-Classification"] == "Restricted"
    return [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]


def test_export_holds_every_section(api_client, privacy_officer, subject) -> None:
    api_client.force_authenticate(privacy_officer)
    lines = _export(api_client, subject)

    manifest = lines[0]
    assert manifest["section"] == "manifest"
    assert manifest["record"]["classification"] == "Restricted"
    assert manifest["record"]["subject"] == str(subject.public_id)
    by_section: dict[str, list] = {}
    for line in lines[1:-1]:
        by_section.setdefault(line["section"], []).append(line["record"])
    assert lines[-1]["section"] == "end"

    assert by_section["profile"][0]["email"] == EMAIL
    assert by_section["profile"][0]["full_name"] == NAME
    assert len(by_section["memberships"]) == 1
    assert by_section["sessions"][0]["ip"] == IPS[1]
    assert "session_key" not in by_section["sessions"][0]
    assert by_section["consents"][0]["purpose__code"] == "product-news"
    assert by_section["privacy_notices"][0]["notice__version"] == 1
    assert {r["kind"] for r in by_section["requests"]} >= {"rectification", "access"}
    assert [k["name"] for k in by_section["api_keys"]] == ["laptop"]
    assert by_section["api_keys"][0]["last_used_ip"] == IPS[0]
    assert not any("hash" in name or "secret" in name for name in by_section["api_keys"][0])
    assert [(d["name"], d["confirmed"]) for d in by_section["mfa_devices"]] == [("phone", True)]
    assert (
        "key" not in by_section["mfa_devices"][0] and "secret" not in by_section["mfa_devices"][0]
    )
    remaining = django_settings.MFA_BACKUP_CODE_COUNT
    assert by_section["backup_codes"] == [{"remaining": remaining}]
    assert [(a["kind"], a["role"]) for a in by_section["approvals"]] == [
        ("role.grant", "requested")
    ]
    assert {e["event_type"] for e in by_section["security_events"]} >= {
        "auth.sign_in_succeeded",
        "auth.sign_in_failed",
        "data.exported",
    }
    user_entries = [e for e in by_section["audit_entries"] if e["content_type__model"] == "user"]
    assert any(e["changes"] and "email" in e["changes"] for e in user_entries)
    assert lines[-1]["record"]["counts"] == {k: len(v) for k, v in by_section.items()}
    # The access request is complete once the stream ended.
    request = DataSubjectRequest.objects.get(subject=subject, kind="access")
    assert request.status == "completed" and request.response_seconds is not None


def test_a_user_exports_their_own_data_but_not_someone_elses(api_client, subject) -> None:
    api_client.force_authenticate(subject)
    assert _export(api_client, subject)[1]["record"]["email"] == EMAIL
    other = factories.UserFactory()
    response = api_client.get(f"/api/compliance/gdpr/export/{other.public_id}")
    assert response.status_code == 403


def _text_columns() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type IN "
            "('text', 'character varying', 'character', 'json', 'jsonb', 'inet') "
            "ORDER BY table_name, column_name"
        )
        return cursor.fetchall()


def _find_everywhere(needles: list[str]) -> list[tuple[str, str, str]]:
    found = []
    with connection.cursor() as cursor:
        for table, column in _text_columns():
            for needle in needles:
                cursor.execute(
                    f'SELECT count(*) FROM "{table}" WHERE "{column}"::text ILIKE %s',
                    [f"%{needle}%"],
                )
                if cursor.fetchone()[0]:
                    found.append((table, column, needle))
    return found


def test_erasure_leaves_no_trace_in_any_table_and_the_audit_trail_verifies(
    api_client, privacy_officer, subject
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the catalog scan reads information_schema")
    needles = [EMAIL, FORMER_EMAIL, NAME, *IPS]
    # Before: the scan sees the person in many places, so it can see them.
    before = {(t, c) for t, c, _ in _find_everywhere(needles)}
    assert {
        ("accounts_user", "email"),
        ("accounts_usersession", "ip"),
        ("audit_securityevent", "ip"),
        ("audit_auditlogentry", "changes"),
    } <= before
    user_type = ContentType.objects.get_for_model(User)
    entries_before = AuditLogEntry.objects.filter(
        content_type=user_type, object_pk=str(subject.pk)
    ).count()
    events_before = (
        SecurityEvent.objects.filter(actor=subject).count()
        + SecurityEvent.objects.filter(target_user=subject).count()
    )

    api_client.force_authenticate(privacy_officer)
    response = api_client.delete(f"/api/compliance/gdpr/delete/{subject.public_id}")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "awaiting_approval"
    # Nothing is erased before a second person approves.
    assert {(t, c) for t, c, _ in _find_everywhere(needles)} == before
    approval = ApprovalRequest.objects.get(public_id=response.json()["approval"])
    assert approval.kind == ApprovalRequest.Kind.DATA_ERASURE
    approval = approval_approve(approval=approval, decided_by=operator_member("admin"))
    assert approval.status == ApprovalRequest.Status.EXECUTED, approval.error
    body = approval.result

    assert _find_everywhere(needles) == []
    # The records stay, pseudonymous, and the chains still verify.
    assert (
        AuditLogEntry.objects.filter(content_type=user_type, object_pk=str(subject.pk)).count()
        == entries_before + 1
    )
    assert (
        SecurityEvent.objects.filter(actor=subject).count()
        + SecurityEvent.objects.filter(target_user=subject).count()
        >= events_before
    )
    assert_chain_verifies(AuditLogEntry)
    assert_chain_verifies(SecurityEvent)
    # And by the audit area's own verifier, personal digests included: the
    # erased rows are the ones the erasure recorded.
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert out.getvalue().count("OK ") == 2, out.getvalue()
    assert "rows pseudonymised" in out.getvalue()
    subject.refresh_from_db()
    assert not subject.is_active and not subject.has_usable_password()
    assert not UserSession.objects.filter(user=subject).exists()
    # Credentials: devices and codes gone, keys revoked, the pending
    # approval cancelled.
    assert not TOTPDevice.objects.filter(user=subject).exists()
    assert not BackupCode.objects.filter(user=subject).exists()
    assert not ApiKey.objects.filter(user=subject, revoked_at=None).exists()
    assert set(
        ApprovalRequest.objects.filter(requested_by=subject).values_list("status", flat=True)
    ) == {ApprovalRequest.Status.CANCELLED}
    assert body["counts"]["mfa_devices_deleted"] == 1
    assert body["counts"]["api_keys_revoked"] == 1
    assert body["counts"]["approvals_cancelled"] == 1
    # Consent history stays as proof, pointing at the pseudonym.
    assert ConsentRecord.objects.filter(user=subject).count() == 1

    request = DataSubjectRequest.objects.get(public_id=body["request"])
    assert request.status == "completed" and request.response_seconds is not None
    certificate = DeletionCertificate.objects.get(public_id=body["certificate"])
    assert certificate.request_id == request.pk and certificate.identifier_count == 2
    assert SecurityEvent.objects.filter(event_type="data.erased", target_user=subject).exists()


def test_erasure_is_refused_under_a_legal_hold_and_recorded(
    api_client, privacy_officer, subject
) -> None:
    hold = legal_hold_place(owner=privacy_officer, reason="litigation", user=subject)
    api_client.force_authenticate(privacy_officer)

    response = api_client.delete(f"/api/compliance/gdpr/delete/{subject.public_id}")

    assert response.status_code == 409
    assert response.json()["code"] == "legal_hold"
    subject.refresh_from_db()
    assert subject.email == EMAIL
    refused = DataSubjectRequest.objects.get(subject=subject, kind="erasure")
    assert refused.status == "refused" and refused.outcome["holds"] == [str(hold.public_id)]


def test_erasure_is_refused_under_a_user_data_hold(privacy_officer, subject) -> None:
    from cloudexpress.api.exceptions import ServiceError

    legal_hold_place(owner=privacy_officer, reason="audit", data_type=DataType.USER_DATA)
    with pytest.raises(ServiceError):
        gdpr.gdpr_erasure_request(subject=subject, requested_by=privacy_officer)


def test_erasure_needs_privacy_manage_and_is_not_self_service(api_client, subject) -> None:
    member = factories.MembershipFactory().user
    api_client.force_authenticate(member)
    assert api_client.delete(f"/api/compliance/gdpr/delete/{subject.public_id}").status_code == 403
    api_client.force_authenticate(subject)
    assert api_client.delete(f"/api/compliance/gdpr/delete/{subject.public_id}").status_code == 403
    subject.refresh_from_db()
    assert subject.email == EMAIL


def _erase(subject: User, requested_by: User) -> DataSubjectRequest:
    request = gdpr.gdpr_erasure_request(subject=subject, requested_by=requested_by)
    approval = ApprovalRequest.objects.get(public_id=request.outcome["approval"])
    approval_approve(approval=approval, decided_by=operator_member("admin"))
    request.refresh_from_db()
    return request


def test_erasure_waits_for_a_second_person_and_a_refusal_closes_the_request(
    privacy_officer, subject
) -> None:
    from cloudexpress.api.exceptions import ServiceError

    request = gdpr.gdpr_erasure_request(subject=subject, requested_by=privacy_officer)
    approval = ApprovalRequest.objects.get(public_id=request.outcome["approval"])
    # The requester cannot approve their own erasure.
    with pytest.raises(ServiceError) as refused:
        approval_approve(approval=approval, decided_by=privacy_officer)
    assert refused.value.get_codes() == "self_approval"
    subject.refresh_from_db()
    assert subject.email == EMAIL

    approval_refuse(approval=approval, decided_by=operator_member("admin"), note="no")
    request.refresh_from_db()
    subject.refresh_from_db()
    assert request.status == "refused" and request.outcome["code"] == "approval_refused"
    assert subject.email == EMAIL


def test_a_hold_placed_while_the_approval_waits_stops_the_erasure(
    privacy_officer, subject
) -> None:
    request = gdpr.gdpr_erasure_request(subject=subject, requested_by=privacy_officer)
    legal_hold_place(owner=privacy_officer, reason="new claim", user=subject)
    approval = ApprovalRequest.objects.get(public_id=request.outcome["approval"])

    approval = approval_approve(approval=approval, decided_by=operator_member("admin"))

    assert approval.result["refused"] == "legal_hold"
    request.refresh_from_db()
    subject.refresh_from_db()
    assert request.status == "refused" and request.outcome["code"] == "legal_hold"
    assert subject.email == EMAIL


def test_a_second_erasure_is_refused(privacy_officer, subject) -> None:
    from cloudexpress.api.exceptions import ServiceError

    assert _erase(subject, privacy_officer).status == "completed"
    with pytest.raises(ServiceError) as refused:
        gdpr.gdpr_erasure_request(subject=subject, requested_by=privacy_officer)
    assert refused.value.get_codes() == "already_erased"
