"""Django admin for every register, and the audit trail of their changes."""

from __future__ import annotations

import hashlib

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY

from accounts.models import TOTPDevice
from audit.models import AuditLogEntry
from compliance import models
from compliance.governance.registration import register_models
from tests.compliance import governance_factories as gf
from tests.compliance.governance_factories import UserFactory
from tests.factories import MembershipFactory, builtin_role

pytestmark = pytest.mark.django_db

GOVERNANCE_MODELS = [
    model for model in admin.site._registry if model.__module__ == "compliance.models.governance"
]


def operator_owner() -> object:
    """An admin user as authorization now requires one: the superuser flag
    grants nothing by itself, an Owner membership of the operator does."""
    user = UserFactory(is_staff=True, is_superuser=True)
    MembershipFactory(user=user, organization=gf.operator(), role=builtin_role("owner"))
    return user


def sign_in_verified(client: Client, user: object) -> None:
    """Sign in with a verified second factor, as admin users must: the
    session names a confirmed device, which django-otp's middleware reads."""
    device = TOTPDevice.objects.create(
        user=user, name="phone", confirmed=True, confirmed_at=timezone.now()
    )
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


@pytest.fixture
def admin_client(client: Client) -> Client:
    sign_in_verified(client, operator_owner())
    return client


def test_superuser_flag_alone_opens_no_register_but_operator_ownership_does(
    client: Client,
) -> None:
    changelist = reverse("admin:compliance_policy_changelist")
    sign_in_verified(client, operator_owner())
    assert client.get(changelist).status_code == 200

    client.logout()
    sign_in_verified(client, UserFactory(is_staff=True, is_superuser=True))
    assert client.get(changelist).status_code == 403


def test_every_governance_model_has_an_admin() -> None:
    from django.db import models as dj

    import compliance.models.governance as module

    declared = {
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, dj.Model) and not value._meta.abstract
    }
    assert declared == set(GOVERNANCE_MODELS)
    assert len(declared) == 23


@pytest.mark.parametrize("model", GOVERNANCE_MODELS, ids=lambda m: m.__name__)
def test_admin_changelist_and_add_pages_open(admin_client: Client, model: type) -> None:
    opts = model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    assert admin_client.get(changelist).status_code == 200
    add = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
    # The reminder log is evidence and cannot be added by hand.
    assert add.status_code == (403 if model is models.Reminder else 200)


def test_report_uploaded_in_admin_gets_its_sha256(admin_client: Client) -> None:
    vendor = gf.VendorFactory()
    content = b"%PDF-1.7 vendor soc 2"
    response = admin_client.post(
        reverse("admin:compliance_vendorcompliancereport_add"),
        {
            "vendor": vendor.pk,
            "kind": "soc2_type2",
            "file": SimpleUploadedFile("soc2.pdf", content),
            "issued_on": "2026-01-01",
            "expires_on": "2027-01-01",
        },
    )
    assert response.status_code == 302
    report = models.VendorComplianceReport.objects.get()
    assert report.sha256 == hashlib.sha256(content).hexdigest()
    report.file.delete()


def test_register_changes_reach_the_audit_trail() -> None:
    register_models()  # already done at start-up; registering again is harmless
    risk = gf.RiskFactory()
    risk.treatment = models.Risk.Treatment.ACCEPT
    risk.save()
    change = gf.ChangeFactory()
    change.approver = UserFactory()
    change.approved_at = timezone.now()
    change.save()

    def entries(obj: object) -> int:
        return AuditLogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(obj), object_pk=str(obj.pk)
        ).count()

    assert entries(risk) == 2
    assert entries(change) == 2


def test_admin_refuses_self_approval_beside_the_field(admin_client: Client) -> None:
    author = UserFactory()
    url = reverse("admin:compliance_changerequest_add")
    form = {
        "title": "Tweak",
        "risk": "low",
        "commits": "[]",
        "author": author.pk,
        "status": "approved",
        "created_at_0": "2026-01-01",
        "created_at_1": "10:00:00",
        "deployments-TOTAL_FORMS": "0",
        "deployments-INITIAL_FORMS": "0",
    }
    refused = admin_client.post(url, {**form, "approver": author.pk})
    assert refused.status_code == 200
    assert "The author of a change cannot approve it." in refused.content.decode()
    assert not models.ChangeRequest.objects.exists()

    accepted = admin_client.post(url, {**form, "approver": UserFactory().pk})
    assert accepted.status_code == 302
    assert models.ChangeRequest.objects.count() == 1
