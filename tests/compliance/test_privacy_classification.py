"""Access by classification, decided by the authorization service: each
refusal first shows the same request working for someone who holds what the
level takes."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Permission, Role
from accounts.services import roles_builtin_ensure
from audit.models import SecurityEvent
from compliance.models import ArchiveObject, DeletionCertificate
from compliance.privacy import archive as archive_module
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    roles_builtin_ensure()
    return factories.OrganizationFactory(is_operator=True)


def _custom_member(operator, *codes: str):
    role = Role.objects.create(organization=operator, name="Retention reader " + "+".join(codes))
    role.permissions.set(Permission.objects.filter(code__in=codes))
    return factories.MembershipFactory(organization=operator, role=role).user


def _certificate() -> DeletionCertificate:
    return DeletionCertificate.objects.create(
        kind=DeletionCertificate.Kind.RETENTION, identifiers_sha256="0" * 64
    )


def test_a_confidential_certificate_needs_evidence_view_besides_retention_view(
    api_client, operator
) -> None:
    certificate = _certificate()
    url = f"/api/compliance/certificates/{certificate.public_id}.pdf"

    reader = _custom_member(operator, "retention.view", "evidence.view")
    api_client.force_authenticate(reader)
    allowed = api_client.get(url)
    assert allowed.status_code == 200 and allowed.content.startswith(b"%PDF")

    without = _custom_member(operator, "retention.view")
    api_client.force_authenticate(without)
    refused = api_client.get(url)
    assert refused.status_code == 403
    assert refused.json()["code"] == "classification_denied"
    # The service records the refusal, as it does for every denied code.
    assert SecurityEvent.objects.filter(
        event_type=SecurityEvent.Type.PERMISSION_DENIED,
        actor=without,
        detail__permission="evidence.view",
    ).exists()


def test_a_restricted_export_is_open_to_its_subject_and_privacy_managers_only(
    api_client, operator
) -> None:
    subject = factories.MembershipFactory(organization=operator).user
    url = f"/api/compliance/gdpr/export/{subject.public_id}"

    api_client.force_authenticate(subject)
    assert api_client.get(url).status_code == 200
    manager = _custom_member(operator, "privacy.manage")
    api_client.force_authenticate(manager)
    assert api_client.get(url).status_code == 200

    evidence_reader = _custom_member(operator, "evidence.view", "retention.view")
    api_client.force_authenticate(evidence_reader)
    assert api_client.get(url).status_code == 403


def test_a_restricted_archive_is_retrieved_only_with_privacy_manage(
    operator, settings, tmp_path
) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "privacy_archive": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    archive = archive_module.archive_write(
        data_type="notifications", run=None, number=1, rows=[{"id": 7, "body": "x"}]
    )
    assert archive.classification == ArchiveObject._meta.get_field("classification").default

    manager = _custom_member(operator, "retention.view", "privacy.manage")
    out = io.StringIO()
    call_command("archive_retrieve", str(archive.public_id), "--by", manager.email, stdout=out)
    assert '"id": 7' in out.getvalue()

    viewer = _custom_member(operator, "retention.view", "evidence.view")
    with pytest.raises(CommandError, match="privacy.manage"):
        call_command("archive_retrieve", str(archive.public_id), "--by", viewer.email)
