"""Consent, privacy notice, classification, self-service profile, usage
records, archive retrieval and the data inventory."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from accounts.models import User
from audit.models import AuditLogEntry
from cloudexpress.api.exceptions import ServiceError
from compliance.models import (
    ApiUsage,
    ArchiveObject,
    Classification,
    ConsentRecord,
    DataSubjectRequest,
)
from compliance.privacy import classification, consent, usage
from compliance.privacy.archive import archive_write
from tests import factories
from tests.compliance.privacy_support import operator_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- Consent ---------------------------------------------------------------------


def test_opt_in_opt_out_withdrawal_and_full_history(user) -> None:
    consent.consent_purpose_publish(code="analytics", name="Analytics", text="We count visits.")
    assert consent.consent_given(user, "analytics") is False
    with pytest.raises(ServiceError) as refused:
        consent.consent_required(user, "analytics")
    assert refused.value.get_codes() == "consent_required"

    consent.consent_record(user=user, purpose_code="analytics", decision="granted")
    assert consent.consent_given(user, "analytics") is True
    consent.consent_required(user, "analytics")

    consent.consent_record(user=user, purpose_code="analytics", decision="withdrawn")
    assert consent.consent_given(user, "analytics") is False

    history = consent.consent_history(user)
    assert [r.decision for r in history] == ["withdrawn", "granted"]


def test_a_new_purpose_text_asks_again(user) -> None:
    consent.consent_purpose_publish(code="analytics", name="Analytics", text="v1")
    consent.consent_record(user=user, purpose_code="analytics", decision="granted")
    consent.consent_purpose_publish(code="analytics", name="Analytics", text="v2, also ads")

    assert consent.consent_given(user, "analytics") is False
    row = consent.consent_overview(user)[0]
    assert row["outdated"] is True and row["version"].version == 2


def test_the_preference_page_records_choices(web, user) -> None:
    consent.consent_purpose_publish(code="news", name="Product news", text="Monthly mail.")
    page = web.get("/privacy/consent/")
    assert page.status_code == 200 and b"Product news" in page.content

    assert (
        web.post("/privacy/consent/", {"purpose": "news", "decision": "granted"}).status_code
        == 302
    )
    assert (
        web.post("/privacy/consent/", {"purpose": "news", "decision": "withdrawn"}).status_code
        == 302
    )

    assert list(
        ConsentRecord.objects.filter(user=user).order_by("id").values_list("decision", flat=True)
    ) == [
        "granted",
        "withdrawn",
    ]
    assert b"Withdrawn" in web.get("/privacy/consent/").content


def test_the_notice_page_shows_what_changed_since_the_version_read(web, user) -> None:
    first = consent.privacy_notice_publish(
        text="We keep logs.\nWe use cookies.", summary_of_changes=""
    )
    consent.privacy_notice_acknowledge(user=user, notice=first)
    consent.privacy_notice_publish(
        text="We keep logs.\nWe use no cookies.", summary_of_changes="Cookies removed."
    )

    page = web.get("/privacy/notice/").content.decode()
    assert "What changed since version 1" in page
    assert "-We use cookies." in page and "+We use no cookies." in page
    assert "Cookies removed." in page

    web.post("/privacy/notice/", {"version": 2})
    assert consent.privacy_notice_status(user)["changed"] is False


# --- Classification ----------------------------------------------------------------


def test_access_by_classification() -> None:
    # The privacy programme is the operator's: its members' roles decide,
    # through accounts.authorization.
    operator = factories.OrganizationFactory(is_operator=True)

    def member_of(kind: str, organization=operator):
        return factories.MembershipFactory(
            organization=organization, role=factories.builtin_role(kind)
        ).user

    member = member_of("member")
    auditor = member_of("auditor")
    admin = member_of("admin")
    outsider = factories.UserFactory()
    # An admin of a customer organization holds nothing in the operator's.
    customer_admin = member_of("admin", factories.OrganizationFactory())

    allows = classification.classification_allows
    assert allows(None, Classification.PUBLIC)
    assert not allows(None, Classification.INTERNAL)
    assert allows(member, Classification.INTERNAL) and not allows(
        outsider, Classification.INTERNAL
    )
    assert allows(auditor, Classification.CONFIDENTIAL) and not allows(
        member, Classification.CONFIDENTIAL
    )
    assert allows(admin, Classification.RESTRICTED) and not allows(
        auditor, Classification.RESTRICTED
    )
    assert not allows(customer_admin, Classification.INTERNAL)
    # Restricted data about a person is open to that person.
    assert allows(member, Classification.RESTRICTED, owner=member)


# --- Profile --------------------------------------------------------------------------


def test_a_user_sees_and_corrects_their_profile_and_the_correction_is_audited(web, user) -> None:
    page = web.get("/privacy/profile/")
    assert page.status_code == 200
    assert user.email.encode() in page.content and b"Classification: Restricted" in page.content

    response = web.post(
        "/privacy/profile/", {"full_name": "Corrected Name", "email": "new@example.test"}
    )
    assert response.status_code == 302

    user.refresh_from_db()
    assert (user.full_name, user.email) == ("Corrected Name", "new@example.test")
    entry = AuditLogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User),
        object_pk=str(user.pk),
        action=AuditLogEntry.Action.UPDATE,
    ).latest("seq")
    assert entry.changes["full_name"][1] == "Corrected Name"
    assert entry.actor_id == user.pk
    assert DataSubjectRequest.objects.get(subject=user, kind="rectification").outcome["fields"]


def test_a_profile_correction_cannot_take_another_address(web, user) -> None:
    other = factories.UserFactory()
    page = web.post("/privacy/profile/", {"full_name": "x", "email": other.email.upper()})
    assert page.status_code == 200 and b"That address is in use." in page.content
    user.refresh_from_db()
    assert user.full_name != "x"


# --- Usage records -------------------------------------------------------------------


def test_usage_writes_once_per_org_endpoint_day_and_the_flush_adds_the_rest(
    api_client, django_assert_num_queries
) -> None:
    membership = factories.MembershipFactory()
    api_client.force_authenticate(membership.user)

    api_client.get("/api/me")
    assert ApiUsage.objects.get().count == 0
    # Later requests touch only the cache: the API view's own queries and
    # nothing from the middleware.
    with django_assert_num_queries(0):
        for _ in range(4):
            api_client.get("/api/me")

    assert usage.usage_flush() == 5
    row = ApiUsage.objects.get()
    assert (row.organization_id, row.endpoint, row.count) == (
        membership.organization_id,
        "GET /api/me",
        5,
    )
    # A second flush adds nothing; new requests are added on top.
    assert usage.usage_flush() == 0
    api_client.get("/api/me")
    usage.usage_flush()
    assert ApiUsage.objects.get().count == 6


def test_usage_counts_for_the_organization_the_url_names_else_the_first_membership(
    api_client,
) -> None:
    first = factories.MembershipFactory(role=factories.builtin_role("admin"))
    user = first.user
    second = factories.MembershipFactory(user=user, role=factories.builtin_role("admin"))
    api_client.force_authenticate(user)

    # No organization in the URL: the first current membership, as the
    # daily quota counts it.
    api_client.get("/api/me")
    # The URL names the second organization: it counts there.
    response = api_client.get(f"/api/orgs/{second.organization.slug}/members")
    assert response.status_code == 200, response.content
    usage.usage_flush()

    rows = set(ApiUsage.objects.values_list("organization_id", "endpoint", "count"))
    assert rows == {
        (min(first.organization_id, second.organization_id), "GET /api/me", 1),
        (second.organization_id, "GET /api/orgs/<slug:slug>/members", 1),
    }


# --- Archive retrieval ------------------------------------------------------------


def test_archive_retrieval_needs_an_authorised_person_and_is_audited(settings, tmp_path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "privacy_archive": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    archive = archive_write(
        data_type="security_events",
        run=None,
        number=1,
        rows=[{"id": 7, "event_type": "auth.sign_in_failed"}, {"id": 9, "event_type": "x"}],
    )
    raw = next(tmp_path.rglob("*.enc")).read_bytes()
    assert b"sign_in_failed" not in raw
    admin = operator_member("admin")
    member = factories.MembershipFactory().user
    out = tmp_path / "rows.jsonl"

    call_command(
        "archive_retrieve", str(archive.public_id), "--by", admin.email, "--out", str(out)
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [7, 9]
    assert AuditLogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(ArchiveObject),
        object_pk=str(archive.pk),
        action=AuditLogEntry.Action.ACCESS,
        actor=admin,
    ).exists()

    with pytest.raises(CommandError):
        call_command("archive_retrieve", str(archive.public_id), "--by", member.email)


# --- Inventory --------------------------------------------------------------------


def test_every_personal_looking_field_is_in_the_inventory() -> None:
    from compliance.privacy.inventory import inventory_uncovered

    assert inventory_uncovered() == []


def test_data_subject_request_response_time() -> None:
    user = factories.UserFactory()
    now = timezone.now()
    request = DataSubjectRequest.objects.create(
        kind="complaint",
        subject=user,
        subject_public_id=user.public_id,
        received_at=now - timedelta(hours=2),
        due_at=now + timedelta(days=28),
        completed_at=now,
    )
    assert request.response_seconds == 7200
