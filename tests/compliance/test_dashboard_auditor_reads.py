"""Every page and file an auditor reads is a security event, exactly once,
whether or not its view records the read itself (AuditorReadsMiddleware)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.auth import apikeys
from accounts.services import roles_builtin_ensure
from audit.models import SecurityEvent
from compliance.runs import checks_run
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

READS = (SecurityEvent.Type.EVIDENCE_VIEWED, SecurityEvent.Type.EVIDENCE_DOWNLOADED)


@pytest.fixture
def operator() -> Any:
    checks_run()
    return OrganizationFactory(slug=settings.OPERATOR_ORGANIZATION_SLUG, is_operator=True)


def person(organization: Any, kind: str, **membership: Any) -> tuple[Any, Any, Client]:
    user = UserFactory()
    row = MembershipFactory(
        user=user, organization=organization, role=roles_builtin_ensure()[kind], **membership
    )
    client = Client()
    client.force_login(user)
    return user, row, client


def reads(user: Any) -> list[tuple[str, str]]:
    return [
        (event.event_type, event.detail["subject"])
        for event in SecurityEvent.objects.filter(event_type__in=READS, actor_id=user.pk).order_by(
            "pk"
        )
    ]


def test_pages_without_a_record_of_their_own_are_recorded_once_each(operator: Any) -> None:
    auditor, _, client = person(operator, "auditor")

    for path in ("/dashboard/", "/dashboard/gaps/", "/api/compliance/soc2/controls"):
        assert client.get(path).status_code == 200, path
    assert client.get("/evidence/?start=2026-09-01&end=2026-12-01&q=someone").status_code == 200

    assert reads(auditor) == [
        (SecurityEvent.Type.EVIDENCE_VIEWED, "page:/dashboard/"),
        (SecurityEvent.Type.EVIDENCE_VIEWED, "page:/dashboard/gaps/"),
        (SecurityEvent.Type.EVIDENCE_VIEWED, "page:/api/compliance/soc2/controls"),
        # The evidence room records its own read (with its period): not twice.
        (SecurityEvent.Type.EVIDENCE_VIEWED, "controls"),
    ]


def test_an_export_that_records_itself_is_one_event(operator: Any) -> None:
    auditor, _, client = person(operator, "auditor")
    response = client.get("/audit/log/export.csv")
    assert response.status_code == 200
    b"".join(response.streaming_content)  # type: ignore[attr-defined]
    request_id = response["X-Request-ID"]
    events = SecurityEvent.objects.filter(actor_id=auditor.pk, request_id=request_id)
    assert [event.event_type for event in events] == [SecurityEvent.Type.DATA_EXPORTED]


def test_the_score_endpoint_is_recorded_and_only_the_pack_poll_is_not(operator: Any) -> None:
    auditor, _, client = person(operator, "auditor")
    assert client.get("/api/compliance/soc2/status").status_code == 200
    assert reads(auditor) == [
        (SecurityEvent.Type.EVIDENCE_VIEWED, "page:/api/compliance/soc2/status")
    ]


def test_an_api_read_with_a_key_is_recorded_with_the_key_holder(operator: Any) -> None:
    auditor, _, _ = person(operator, "auditor")
    raw = apikeys.api_key_create(
        user=auditor,
        organization=operator,
        name="evidence pull",
        scopes=["controls.view"],
        created_by=auditor,
    ).raw

    # DRF authenticates the key inside the view; the read is still the
    # auditor's.
    response = APIClient().get("/api/compliance/soc2/controls", HTTP_AUTHORIZATION=f"ApiKey {raw}")
    assert response.status_code == 200, response.content
    assert reads(auditor) == [
        (SecurityEvent.Type.EVIDENCE_VIEWED, "page:/api/compliance/soc2/controls")
    ]


def test_others_reads_and_refused_reads_are_not_auditor_reads(operator: Any) -> None:
    admin, _, admin_client = person(operator, "admin")
    assert admin_client.get("/dashboard/gaps/").status_code == 200
    assert reads(admin) == []

    auditor, membership, client = person(operator, "auditor")
    assert client.get("/dashboard/gaps/").status_code == 200
    assert len(reads(auditor)) == 1
    membership.expires_at = timezone.now() - timedelta(minutes=1)
    membership.save(update_fields=["expires_at"])
    assert client.get("/dashboard/gaps/").status_code == 403
    assert len(reads(auditor)) == 1
