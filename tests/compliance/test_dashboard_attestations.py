"""Attesting a control and reviewing the attestation from the control's page:
the attester is whoever uploads, the reviewer someone else, once."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.services import roles_builtin_ensure
from cloudexpress.api.exceptions import ServiceError
from compliance import attestations
from compliance.catalog import catalog_ensure, controls_seed
from compliance.models import Attestation, Control, ControlScore
from compliance.runs import checks_run
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

# A control proven by a person alone: it has no check.
CONTROL = "CX-GOV-01"
PAGE = f"/dashboard/controls/{CONTROL}/"


@pytest.fixture(autouse=True)
def media(tmp_path: Any, settings: Any) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def operator() -> Any:
    return OrganizationFactory(slug=settings.OPERATOR_ORGANIZATION_SLUG, is_operator=True)


@pytest.fixture
def admin_officer(client: Client, operator: Any) -> Any:
    """An operator Owner signed in to Django admin with a verified device."""
    from tests.compliance.test_governance_admin import sign_in_verified
    from tests.factories import builtin_role

    officer = UserFactory(is_staff=True)
    MembershipFactory(user=officer, organization=operator, role=builtin_role("owner"))
    sign_in_verified(client, officer)
    return officer


def person(organization: Any, kind: str) -> tuple[Any, Client]:
    user = UserFactory()
    MembershipFactory(user=user, organization=organization, role=roles_builtin_ensure()[kind])
    client = Client()
    client.force_login(user)
    return user, client


def _attest(client: Client, **fields: Any) -> Any:
    data = {
        "file": SimpleUploadedFile("minutes.txt", b"Q3 access review minutes"),
        "statement": "The quarterly access review was held and signed off.",
        "expires_on": (timezone.localdate() + timedelta(days=90)).isoformat(),
        "classification": "confidential",
        **fields,
    }
    return client.post(f"/dashboard/controls/{CONTROL}/attest", data)


@pytest.mark.django_db
def test_an_admin_attests_and_another_reviews_then_the_run_counts_it(operator: Any) -> None:
    attester, attester_client = person(operator, "admin")
    reviewer, reviewer_client = person(operator, "admin")
    before = ControlScore.objects.get(run=checks_run(), control__code=CONTROL)
    assert before.reasons == ["no check and no current attestation"]

    assert 'id="attest-form"' in attester_client.get(PAGE).content.decode()
    response = _attest(attester_client)
    assert response.status_code == 302
    attestation = Attestation.objects.get(control__code=CONTROL)
    assert attestation.attested_by == attester
    assert attestation.sha256 == hashlib.sha256(b"Q3 access review minutes").hexdigest()
    assert attestation.reviewed_at is None

    # The attester sees no review button for their own, and is refused.
    own = attester_client.get(PAGE).content.decode()
    assert 'class="review-attestation"' not in own
    review_url = f"/dashboard/controls/{CONTROL}/attestations/{attestation.pk}/review"
    page = attester_client.post(review_url, follow=True).content.decode()
    assert "cannot review their own" in page
    attestation.refresh_from_db()
    assert attestation.reviewed_at is None

    # The second admin reviews it; a second review is refused politely.
    assert 'class="review-attestation"' in reviewer_client.get(PAGE).content.decode()
    assert reviewer_client.post(review_url).status_code == 302
    attestation.refresh_from_db()
    assert (attestation.reviewed_by, attestation.is_current(timezone.now())) == (reviewer, True)
    again = reviewer_client.post(review_url, follow=True).content.decode()
    assert "already reviewed" in again

    # The next run counts the reviewed attestation for the control.
    after = ControlScore.objects.get(run=checks_run(), control__code=CONTROL)
    assert (before.status, after.status, after.reasons) == ("fail", "pass", [])


@pytest.mark.django_db
def test_bad_input_is_shown_beside_the_field_and_nothing_is_stored(operator: Any) -> None:
    _, client = person(operator, "admin")
    response = _attest(client, expires_on=timezone.localdate().isoformat(), statement="   ")
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="error-expires_on"' in page and "a day after today" in page
    assert 'id="error-statement"' in page
    assert not Attestation.objects.exists()


@pytest.mark.django_db
def test_a_member_and_an_auditor_may_neither_attest_nor_review(operator: Any) -> None:
    admin, admin_client = person(operator, "admin")
    assert _attest(admin_client).status_code == 302
    attestation = Attestation.objects.get()
    review_url = f"/dashboard/controls/{CONTROL}/attestations/{attestation.pk}/review"
    for kind in ("member", "auditor"):
        _, client = person(operator, kind)
        page = client.get(PAGE).content.decode()
        assert 'id="attest-form"' not in page and 'class="review-attestation"' not in page
        assert _attest(client).status_code == 403
        assert client.post(review_url).status_code == 403
    assert Attestation.objects.count() == 1
    attestation.refresh_from_db()
    assert attestation.reviewed_at is None


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_at_once_give_exactly_one_review() -> None:
    """Separate connections on PostgreSQL: the row lock lets one through."""
    # Transactional tests start from whatever an earlier one's flush left.
    catalog_ensure()
    controls_seed()
    attester = UserFactory()
    reviewers = [UserFactory(), UserFactory()]
    control = Control.objects.get(code=CONTROL)
    attestation = attestations.attestation_create(
        control=control,
        upload=b"minutes",
        file_name="minutes.txt",
        statement="Held.",
        attested_by=attester,
        expires_at=timezone.now() + timedelta(days=30),
    )
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def review(reviewer: Any) -> None:
        try:
            barrier.wait(timeout=10)
            attestations.attestation_review(
                attestation=Attestation.objects.get(pk=attestation.pk), reviewer=reviewer
            )
            outcomes.append("reviewed")
        except ServiceError as exc:
            outcomes.append(str(exc.detail.code))  # type: ignore[union-attr]
        finally:
            connections.close_all()

    threads = [threading.Thread(target=review, args=(r,)) for r in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["already_reviewed", "reviewed"]
    attestation.refresh_from_db()
    assert attestation.reviewed_by in reviewers


@pytest.mark.django_db
def test_in_admin_the_attester_is_whoever_adds_it_and_review_is_four_eyes(
    client: Client, admin_officer: Any
) -> None:
    officer = admin_officer
    someone_else = UserFactory()

    add = reverse("admin:compliance_attestation_add")
    form = client.get(add).content.decode()
    assert 'name="attested_by"' not in form
    response = client.post(
        add,
        {
            "control": Control.objects.get(code=CONTROL).pk,
            "statement": "Signed policy.",
            "file": SimpleUploadedFile("policy.pdf", b"%PDF-1.7 policy"),
            "file_name": "policy.pdf",
            "classification": "confidential",
            "expires_at_0": (timezone.localdate() + timedelta(days=30)).isoformat(),
            "expires_at_1": "12:00:00",
            # A forged field is ignored: the attester is the signed-in officer.
            "attested_by": someone_else.pk,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    attestation = Attestation.objects.get()
    assert attestation.attested_by == officer

    changelist = reverse("admin:compliance_attestation_changelist")
    page = client.post(
        changelist,
        {"action": "review_selected", "_selected_action": [attestation.pk]},
        follow=True,
    ).content.decode()
    assert "cannot review their own" in page
    attestation.refresh_from_db()
    assert attestation.reviewed_at is None


@pytest.mark.django_db
def test_in_admin_a_reviewed_attestation_cannot_be_changed_and_expiry_must_be_ahead(
    client: Client, admin_officer: Any
) -> None:
    add = reverse("admin:compliance_attestation_add")
    fields = {
        "control": Control.objects.get(code=CONTROL).pk,
        "statement": "Signed policy.",
        "classification": "confidential",
        "expires_at_1": "12:00:00",
    }

    # A past expiry is refused beside its field, as on the control page.
    past = client.post(
        add,
        {
            **fields,
            "file": SimpleUploadedFile("policy.pdf", b"%PDF-1.7"),
            "expires_at_0": "2020-01-01",
        },
    )
    assert past.status_code == 200
    assert "must expire in the future" in past.content.decode()
    assert not Attestation.objects.exists()

    # The name shown to auditors is the uploaded file's, never typed in.
    ahead = (timezone.localdate() + timedelta(days=30)).isoformat()
    client.post(
        add,
        {
            **fields,
            "file": SimpleUploadedFile("minutes.exe", b"MZ"),
            "file_name": "board-minutes-signed.pdf",
            "expires_at_0": ahead,
        },
    )
    attestation = Attestation.objects.get()
    assert attestation.file_name == "minutes.exe"

    # Reviewed by a second person, it is what that person saw: no change.
    attestations.attestation_review(attestation=attestation, reviewer=UserFactory())
    change = reverse("admin:compliance_attestation_change", args=[attestation.pk])
    assert 'name="statement"' not in client.get(change).content.decode()
    client.post(
        change,
        {
            **fields,
            "statement": "swapped after review",
            "file": SimpleUploadedFile("swapped.txt", b"other"),
            "expires_at_0": "9999-12-31",
        },
    )
    attestation.refresh_from_db()
    assert (attestation.statement, attestation.file_name) == ("Signed policy.", "minutes.exe")
    assert attestation.expires_at.date().isoformat() == ahead
