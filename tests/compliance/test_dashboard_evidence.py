"""The evidence room: time-boxed auditor access, every view and download a
security event, and evidence requests from question to closure."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from accounts.services import roles_builtin_ensure
from audit.models import AuditLogEntry, SecurityEvent
from compliance.models import Attestation, AuditLiaison, Control, EvidenceRequest
from compliance.runs import checks_run
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(tmp_path: Any, settings: Any) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def operator() -> Any:
    return OrganizationFactory(slug=settings.OPERATOR_ORGANIZATION_SLUG, is_operator=True)


def person(organization: Any, kind: str, **membership: Any) -> tuple[Any, Any, Client]:
    user = UserFactory()
    row = MembershipFactory(
        user=user, organization=organization, role=roles_builtin_ensure()[kind], **membership
    )
    client = Client()
    client.force_login(user)
    return user, row, client


def designate(client: Client, liaison: Any) -> None:
    """Designate ``liaison`` as an admin does, from the requests page."""
    response = client.post("/evidence/liaison", {"liaison": liaison.email})
    assert response.status_code == 302, response.content.decode()


def ask(client: Client, question: str = "Last restore test report?", days: int = 7) -> Any:
    due = (timezone.localdate() + timedelta(days=days)).isoformat()
    response = client.post(
        "/evidence/requests/", {"control": "CX-BCK-01", "question": question, "due_on": due}
    )
    assert response.status_code == 302
    return EvidenceRequest.objects.get(question=question)


def answer(client: Client, request: Any, content: bytes = b"restored OK", **extra: Any) -> Any:
    data = {"note": "Attached.", "files": SimpleUploadedFile("restore.txt", content)}
    return client.post(f"/evidence/requests/{request.public_id}/answer", data, **extra)


def _events(event_type: str, user: Any) -> list[SecurityEvent]:
    return list(
        SecurityEvent.objects.filter(event_type=event_type, actor_id=user.pk).order_by("pk")
    )


def test_auditor_views_and_downloads_are_security_events(operator: Any) -> None:
    checks_run()
    auditor, _, client = person(operator, "auditor")
    attester, _, _ = person(operator, "admin")
    reviewer, _, _ = person(operator, "admin")
    content = b"access review minutes, Q3"
    attestation = Attestation.objects.create(
        control=Control.objects.get(code="CX-ACC-04"),
        statement="Quarterly review held.",
        file=SimpleUploadedFile("review.txt", content),
        file_name="review.txt",
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        attested_by=attester,
        reviewed_by=reviewer,
        reviewed_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=90),
    )

    room = client.get("/evidence/")
    assert room.status_code == 200
    assert (
        room.content.decode().count('class="evidence-control"')
        == Control.objects.filter(is_active=True).count()
    )
    page = client.get("/evidence/controls/CX-ACC-04/").content.decode()
    assert attestation.sha256 in page
    assert page.count('class="evidence-result"') >= 1

    download = client.get(f"/evidence/attestations/{attestation.pk}/file")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == content

    viewed = _events(SecurityEvent.Type.EVIDENCE_VIEWED, auditor)
    assert [e.detail["subject"] for e in viewed] == ["controls", "control:CX-ACC-04"]
    downloaded = _events(SecurityEvent.Type.EVIDENCE_DOWNLOADED, auditor)
    assert [e.detail["subject"] for e in downloaded] == [f"attestation:{attestation.pk}"]


def test_auditor_access_ends_when_the_membership_expires(operator: Any) -> None:
    _, membership, client = person(
        operator, "auditor", expires_at=timezone.now() + timedelta(days=1)
    )
    assert client.get("/evidence/").status_code == 200

    membership.expires_at = timezone.now() - timedelta(minutes=1)
    membership.save(update_fields=["expires_at"])
    assert client.get("/evidence/").status_code == 403
    # A member without evidence.view is refused too.
    assert person(operator, "member")[2].get("/evidence/").status_code == 403


def test_request_is_asked_answered_with_a_file_and_closed(operator: Any) -> None:
    auditor, _, auditor_client = person(operator, "auditor")
    liaison, _, liaison_client = person(operator, "admin")
    designate(liaison_client, liaison)
    due = (timezone.localdate() + timedelta(days=7)).isoformat()

    asked = auditor_client.post(
        "/evidence/requests/",
        {"control": "CX-BCK-01", "question": "Last restore test report?", "due_on": due},
    )
    assert asked.status_code == 302
    request = EvidenceRequest.objects.get()
    assert (request.requested_by, request.status) == (auditor, EvidenceRequest.Status.OPEN)

    # The read-only auditor cannot answer; the liaison can.
    answer = {"note": "Attached.", "files": SimpleUploadedFile("restore.txt", b"restored OK")}
    assert (
        auditor_client.post(f"/evidence/requests/{request.public_id}/answer", answer).status_code
        == 403
    )
    answer["files"] = SimpleUploadedFile("restore.txt", b"restored OK")
    assert (
        liaison_client.post(f"/evidence/requests/{request.public_id}/answer", answer).status_code
        == 302
    )
    request.refresh_from_db()
    assert request.status == EvidenceRequest.Status.ANSWERED
    stored = request.files.get()
    assert stored.sha256 == hashlib.sha256(b"restored OK").hexdigest()

    listing = auditor_client.get("/evidence/requests/").content.decode()
    assert stored.sha256 in listing
    assert 'id="figure-open-requests">1<' in listing
    download = auditor_client.get(f"/evidence/requests/files/{stored.pk}")
    assert b"".join(download.streaming_content) == b"restored OK"

    assert auditor_client.post(f"/evidence/requests/{request.public_id}/close").status_code == 302
    request.refresh_from_db()
    assert request.status == EvidenceRequest.Status.CLOSED
    assert (
        'id="figure-open-requests">0<'
        in auditor_client.get("/evidence/requests/").content.decode()
    )


def test_a_request_due_in_the_past_is_refused(operator: Any) -> None:
    _, _, client = person(operator, "auditor")
    past = (timezone.localdate() - timedelta(days=1)).isoformat()
    response = client.post(
        "/evidence/requests/", {"control": "CX-BCK-01", "question": "?", "due_on": past}
    )
    assert response.status_code == 200
    assert EvidenceRequest.objects.count() == 0


def test_auditor_views_of_requests_and_of_a_control_page_are_security_events(
    operator: Any,
) -> None:
    checks_run()
    auditor, _, client = person(operator, "auditor")

    assert client.get("/evidence/requests/").status_code == 200
    # The dashboard's control page shows the same checks and evidence hashes
    # as the evidence room, so an auditor's look at it is recorded too.
    assert client.get("/dashboard/controls/CX-ACC-04/").status_code == 200

    viewed = _events(SecurityEvent.Type.EVIDENCE_VIEWED, auditor)
    assert [e.detail["subject"] for e in viewed] == ["requests", "control:CX-ACC-04"]


def test_a_refused_answer_or_closure_is_shown_not_a_server_error(operator: Any) -> None:
    auditor, _, auditor_client = person(operator, "auditor")
    _, _, other_auditor = person(operator, "auditor")
    liaison, _, liaison_client = person(operator, "admin")
    designate(liaison_client, liaison)
    due = (timezone.localdate() + timedelta(days=7)).isoformat()
    auditor_client.post(
        "/evidence/requests/", {"control": "CX-BCK-01", "question": "Restores?", "due_on": due}
    )
    request = EvidenceRequest.objects.get()
    answer_url = f"/evidence/requests/{request.public_id}/answer"
    close_url = f"/evidence/requests/{request.public_id}/close"

    # No note: refused beside the list, nothing stored.
    empty = liaison_client.post(answer_url, {"note": ""}, follow=True)
    assert empty.status_code == 200
    assert "A note is required." in empty.content.decode()
    # Only the auditor who asked closes the request.
    foreign = other_auditor.post(close_url, follow=True)
    assert foreign.status_code == 200
    assert "Only the auditor who asked closes the request." in foreign.content.decode()
    request.refresh_from_db()
    assert request.status == EvidenceRequest.Status.OPEN

    # A closed request takes no more answers.
    assert auditor_client.post(close_url).status_code == 302
    late = liaison_client.post(answer_url, {"note": "Late."}, follow=True)
    assert late.status_code == 200
    assert "This request is closed." in late.content.decode()
    request.refresh_from_db()
    assert (request.status, request.answer_note) == (EvidenceRequest.Status.CLOSED, "")


# --- The audit liaison ----------------------------------------------------------


def test_the_designated_liaison_is_assigned_new_requests_and_answers_them(
    operator: Any,
) -> None:
    _, _, owner_client = person(operator, "owner")
    liaison, _, liaison_client = person(operator, "admin")
    _, _, auditor_client = person(operator, "auditor")
    designate(owner_client, liaison)

    request = ask(auditor_client)
    assert request.liaison == liaison
    # Asked today, due in 7 days: not overdue. Ten days on, it is.
    EvidenceRequest.objects.filter(pk=request.pk).update(
        due_on=timezone.localdate() - timedelta(days=3)
    )
    listing = auditor_client.get("/evidence/requests/").content.decode()
    assert f'<td class="request-liaison">{liaison.email}</td>' in listing
    assert (timezone.localdate() - timedelta(days=3)).isoformat() in listing
    assert 'class="status-fail">overdue<' in listing

    assert answer(liaison_client, request).status_code == 302
    request.refresh_from_db()
    assert (request.status, request.liaison) == (EvidenceRequest.Status.ANSWERED, liaison)
    assert request.files.get().uploaded_by == liaison


def test_an_admin_who_is_not_the_assigned_liaison_cannot_answer(operator: Any) -> None:
    liaison, _, liaison_client = person(operator, "admin")
    other, _, other_client = person(operator, "admin")
    _, _, auditor_client = person(operator, "auditor")
    designate(other_client, liaison)
    first = ask(auditor_client, "Restore report?")
    second = ask(auditor_client, "Backup encryption?")

    # The assigned liaison answers the first request...
    assert answer(liaison_client, first).status_code == 302
    first.refresh_from_db()
    assert first.status == EvidenceRequest.Status.ANSWERED

    # ...the same action by another admin, who holds evidence.upload too, is
    # refused with a message, and nothing of the answer is stored.
    page = answer(other_client, second, b"not mine to send", follow=True)
    assert page.status_code == 200
    assert "Only the audit liaison assigned to this request answers it." in page.content.decode()
    second.refresh_from_db()
    assert (second.status, second.answer_note, second.answered_at) == (
        EvidenceRequest.Status.OPEN,
        "",
        None,
    )
    assert not second.files.exists()
    # The other admin is offered no answer form for it either.
    assert f"/evidence/requests/{second.public_id}/answer" not in page.content.decode()


def test_an_admin_reassigns_a_request_to_another_member(operator: Any) -> None:
    admin, _, admin_client = person(operator, "admin")
    liaison, _, liaison_client = person(operator, "admin")
    deputy, _, deputy_client = person(operator, "admin")
    _, _, auditor_client = person(operator, "auditor")
    designate(admin_client, liaison)
    request = ask(auditor_client)

    reassign = f"/evidence/requests/{request.public_id}/reassign"
    assert admin_client.post(reassign, {"liaison": deputy.email}).status_code == 302
    request.refresh_from_db()
    assert request.liaison == deputy
    changed = SecurityEvent.objects.get(
        event_type=SecurityEvent.Type.SETTINGS_CHANGED, detail__setting="evidence_request_liaison"
    )
    assert (changed.actor_id, changed.target_user_id) == (admin.pk, deputy.pk)

    # The former liaison is refused; the new one answers.
    refused = answer(liaison_client, request, follow=True)
    assert "Only the audit liaison assigned" in refused.content.decode()
    assert answer(deputy_client, request).status_code == 302
    request.refresh_from_db()
    assert request.status == EvidenceRequest.Status.ANSWERED

    # Reassigning to someone outside the organization is a message, not a 500.
    outsider = UserFactory()
    page = admin_client.post(reassign, {"liaison": outsider.email}, follow=True)
    assert page.status_code == 200
    assert "is not a current member" in page.content.decode()
    request.refresh_from_db()
    assert request.liaison == deputy


def test_designating_a_non_member_shows_an_error_beside_the_field(operator: Any) -> None:
    admin, _, admin_client = person(operator, "admin")
    liaison, _, _ = person(operator, "admin")
    plain, _, _ = person(operator, "member")
    outsider = UserFactory()
    stranger_org = OrganizationFactory()
    foreign_admin = UserFactory()
    MembershipFactory(
        user=foreign_admin, organization=stranger_org, role=roles_builtin_ensure()["admin"]
    )

    for email, error in (
        (outsider.email, "is not a current member"),
        (foreign_admin.email, "is not a current member"),
        (plain.email, "does not hold &#x27;evidence.upload&#x27;"),
    ):
        page = admin_client.post("/evidence/liaison", {"liaison": email})
        assert page.status_code == 200
        html = page.content.decode()
        form = html[html.index('id="liaison-form"') :]
        assert 'class="errorlist' in form and error in form, email
        assert not AuditLiaison.objects.exists()

    # A valid designation, then a change, each audited.
    designate(admin_client, admin)
    designate(admin_client, liaison)
    assert AuditLiaison.objects.get().user == liaison
    changes = SecurityEvent.objects.filter(
        event_type=SecurityEvent.Type.SETTINGS_CHANGED, detail__setting="audit_liaison"
    ).order_by("pk")
    assert [(e.actor_id, e.detail["previous_user"], e.detail["user"]) for e in changes] == [
        (admin.pk, None, admin.pk),
        (admin.pk, admin.pk, liaison.pk),
    ]
    assert (
        AuditLogEntry.objects.filter(content_type__model="auditliaison", actor_id=admin.pk).count()
        == 2
    )


def test_an_auditor_can_neither_designate_nor_answer(operator: Any) -> None:
    auditor, _, auditor_client = person(operator, "auditor")
    liaison, _, liaison_client = person(operator, "admin")
    designate(liaison_client, liaison)
    request = ask(auditor_client)

    assert auditor_client.post("/evidence/liaison", {"liaison": auditor.email}).status_code == 403
    reassign = f"/evidence/requests/{request.public_id}/reassign"
    assert auditor_client.post(reassign, {"liaison": auditor.email}).status_code == 403
    assert answer(auditor_client, request).status_code == 403
    # Nor can an admin make the auditor the liaison: the role is read-only.
    page = liaison_client.post("/evidence/liaison", {"liaison": auditor.email})
    assert "does not hold" in page.content.decode()

    request.refresh_from_db()
    assert (request.liaison, request.status) == (liaison, EvidenceRequest.Status.OPEN)
    assert AuditLiaison.objects.get().user == liaison
    listing = auditor_client.get("/evidence/requests/").content.decode()
    assert 'id="liaison-form"' not in listing and "/reassign" not in listing


def test_requests_asked_before_any_designation_go_to_the_first_liaison(operator: Any) -> None:
    liaison, _, liaison_client = person(operator, "admin")
    _, _, auditor_client = person(operator, "auditor")
    request = ask(auditor_client)
    assert request.liaison is None
    refused = answer(liaison_client, request, follow=True)
    assert "No audit liaison is assigned to this request yet." in refused.content.decode()

    designate(liaison_client, liaison)
    request.refresh_from_db()
    assert request.liaison == liaison
