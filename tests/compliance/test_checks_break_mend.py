"""Every check, broken and mended.

``BREAK_MEND`` holds one case per registered check: ``broken`` puts the live
state in a shape that violates the control and the check must not pass;
``mended`` repairs it and the check must pass. A check whose area is not
built yet has ``pending`` instead of ``mended``: its break case proves it
reports ``not_implemented`` (which scores as failing), and the mend case is
skipped with the reason. The meta-test fails when a registered check has no
case.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from auditlog.registry import auditlog
from django.conf import settings as django_settings
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from accounts.models import (
    AccessReviewCampaign,
    ApiKey,
    ApprovalRequest,
    Invitation,
    IpAllowlistEntry,
    Membership,
    Organization,
    Permission,
    TOTPDevice,
    User,
    UserSession,
)
from accounts.services import roles_builtin_ensure
from audit import chain
from audit.models import Alert, AuditLogEntry, Incident, SecurityEvent
from audit.services import security_event_record
from cloudexpress import beat
from compliance import attestations
from compliance import models as compliance_models
from compliance.catalog import catalog_ensure
from compliance.checks import registry
from compliance.models import ActionItem, Control, JobRun, RestoreTest, ResultStatus, Run
from tests.compliance import governance_factories as gf
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

Step = Callable[[SimpleNamespace], None]


@dataclass
class Case:
    broken: Step
    mended: Step | None = None
    pending: str = ""
    # What "broken" must yield; not_implemented counts as failing too.
    expect: tuple[str, ...] = (ResultStatus.FAIL,)
    notes: dict[str, Any] = field(default_factory=dict)


def nothing(env: SimpleNamespace) -> None:
    """The state of a fresh test database already meets the control."""


def ago(**delta: float) -> Any:
    return timezone.now() - timedelta(**delta)


def ahead(**delta: float) -> Any:
    return timezone.now() + timedelta(**delta)


def setting(name: str, value: Any) -> Step:
    def apply(env: SimpleNamespace) -> None:
        setattr(env.settings, name, value)

    return apply


def settings_(**values: Any) -> Step:
    def apply(env: SimpleNamespace) -> None:
        for name, value in values.items():
            setattr(env.settings, name, value)

    return apply


def validators(min_length: int, *, full: bool = True) -> list[dict[str, Any]]:
    entries = [
        {
            "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
            "OPTIONS": {"min_length": min_length},
        }
    ]
    if full:
        entries += [
            {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
            {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
        ]
    return entries


STRONG_KEY = secrets.token_urlsafe(64)
AXES_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
ALLAUTH_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]


def production(**values: Any) -> Step:
    return settings_(PRODUCTION=True, **values)


def database_sslmode(mode: str) -> Step:
    def apply(env: SimpleNamespace) -> None:
        databases = copy.deepcopy(django_settings.DATABASES)
        databases["default"].setdefault("OPTIONS", {})["sslmode"] = mode
        env.settings.PRODUCTION = True
        with pytest.warns(UserWarning):
            env.settings.DATABASES = databases

    return apply


def throttling(enabled: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        config = dict(django_settings.REST_FRAMEWORK)
        if enabled:
            config["DEFAULT_THROTTLE_CLASSES"] = [
                "rest_framework.throttling.UserRateThrottle",
                "rest_framework.throttling.AnonRateThrottle",
            ]
            config["DEFAULT_THROTTLE_RATES"] = {"user": "1000/hour", "anon": "100/hour"}
        else:
            config.pop("DEFAULT_THROTTLE_CLASSES", None)
        env.settings.REST_FRAMEWORK = config

    return apply


def csp(script_src: list[str]) -> Step:
    def apply(env: SimpleNamespace) -> None:
        policy = copy.deepcopy(django_settings.CONTENT_SECURITY_POLICY)
        policy["DIRECTIVES"]["script-src"] = script_src
        env.settings.CONTENT_SECURITY_POLICY = policy

    return apply


def thresholds(**values: Any) -> Step:
    return setting("COMPLIANCE_THRESHOLDS", values)


def scheduled(
    task: str,
    *,
    every: dict[str, float] | None = None,
    status: str = "done",
    key: str | None = None,
) -> Step:
    """Schedule ``task`` on beat and record its last run ``every`` ago, under
    the JobRun ``key`` the job stamps (its task name unless given)."""

    def apply(env: SimpleNamespace) -> None:
        env.monkeypatch.setitem(beat.BEAT_SCHEDULE, f"test-{task}", {"task": task, "schedule": 60})
        if every is not None:
            when = ago(**every)
            JobRun.objects.create(
                job=key or task, status=status, started_at=when, finished_at=when
            )

    return apply


# --- accounts state ------------------------------------------------------------


def terminated_user(*, session: bool, active: bool = False) -> Step:
    def apply(env: SimpleNamespace) -> None:
        user = UserFactory(terminated_at=ago(days=1), is_active=active)
        if session:
            UserSession.objects.create(
                session_key=secrets.token_hex(16),
                session_data="",
                expire_date=ahead(hours=2),
                user=user,
            )
        else:
            UserSession.objects.create(
                session_key=secrets.token_hex(16),
                session_data="",
                expire_date=ago(hours=2),
                user=user,
            )

    return apply


def organization_with(kind: str) -> Step:
    def apply(env: SimpleNamespace) -> None:
        MembershipFactory(role=roles_builtin_ensure()[kind])

    return apply


def operator(slug: str | None) -> Step:
    def apply(env: SimpleNamespace) -> None:
        if slug is not None:
            OrganizationFactory(slug=slug, is_operator=True)

    return apply


def grant_expiring(**delta: float) -> Step:
    def apply(env: SimpleNamespace) -> None:
        MembershipFactory(
            role=roles_builtin_ensure()["admin"],
            expires_at=timezone.now() + timedelta(**delta),
        )

    return apply


def staff(in_operator: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        user = UserFactory(is_staff=True)
        organization = OrganizationFactory(
            slug=django_settings.OPERATOR_ORGANIZATION_SLUG, is_operator=True
        )
        if in_operator:
            MembershipFactory(
                user=user, organization=organization, role=roles_builtin_ensure()["admin"]
            )

    return apply


def superuser(staff_flag: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        UserFactory(is_superuser=True, is_staff=staff_flag)

    return apply


def auditor(staff_flag: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        MembershipFactory(
            user=UserFactory(is_staff=staff_flag), role=roles_builtin_ensure()["auditor"]
        )

    return apply


def roles(drift: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        roles = roles_builtin_ensure()
        if drift:
            roles["member"].permissions.add(Permission.objects.get(code="org.delete"))

    return apply


def unregistered(model: type) -> Step:
    def apply(env: SimpleNamespace) -> None:
        fields = auditlog.get_model_fields(model)
        auditlog.unregister(model)
        env.cleanups.append(lambda: auditlog.register(model, **_register_kwargs(fields)))

    return apply


def _register_kwargs(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "include_fields": fields["include_fields"],
        "exclude_fields": fields["exclude_fields"],
        "mapping_fields": fields["mapping_fields"],
        "mask_fields": fields["mask_fields"],
    }


# --- audit state ---------------------------------------------------------------


def chained_rows(*, tamper: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        for _ in range(3):
            security_event_record(event_type=SecurityEvent.Type.SIGN_IN_FAILED)
        # An entry written the way the trail writes it, with a text key.
        AuditLogEntry(
            content_type=ContentType.objects.get_for_model(Organization),
            object_pk="1",
            object_repr="organization",
            action=0,
        ).save()
        if tamper:
            SecurityEvent.objects.filter(seq=2).update(severity="critical")

    return apply


def sequence(*, gap: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        for _ in range(3):
            security_event_record(event_type=SecurityEvent.Type.SIGN_IN_FAILED)
        if gap:
            SecurityEvent.objects.filter(seq=2).delete()

    return apply


def events_scored(*, all_scored: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        old = security_event_record(
            event_type=SecurityEvent.Type.SIGN_IN_FAILED, occurred_at=ago(days=3)
        )
        SecurityEvent.objects.filter(pk=old.pk).update(risk_score=10)
        recent = security_event_record(
            event_type=SecurityEvent.Type.SIGN_IN_FAILED, occurred_at=ago(hours=1)
        )
        if all_scored:
            SecurityEvent.objects.filter(pk=recent.pk).update(risk_score=20)

    return apply


def old_event(**delta: float) -> Step:
    def apply(env: SimpleNamespace) -> None:
        security_event_record(
            event_type=SecurityEvent.Type.SIGN_IN_FAILED,
            occurred_at=timezone.now() - timedelta(**delta),
        )
        # The newest row of a chain always stays (the chain goes on from
        # it), so the old event is followed by one of today.
        security_event_record(event_type=SecurityEvent.Type.SIGN_IN_FAILED)

    return apply


def encryption_key(*, age_days: int, rotate: bool = False) -> Step:
    def apply(env: SimpleNamespace) -> None:
        from cloudexpress.keyring import generate_key_spec
        from compliance.privacy import keys

        if rotate:
            old = django_settings.FIELD_ENCRYPTION_KEYS
            env.settings.FIELD_ENCRYPTION_KEYS = generate_key_spec("k-new") + "," + old
            keys.encryption_keys_rotate()
        keys.encryption_keys_register()
        current = keys.keyring().current_id
        compliance_models.EncryptionKey.objects.filter(key_id=current).update(
            created_at=ago(days=age_days)
        )

    return apply


# --- operations state ----------------------------------------------------------


def heartbeat(**delta: float) -> Step:
    def apply(env: SimpleNamespace) -> None:
        JobRun.objects.create(
            job="heartbeat",
            status=JobRun.Status.DONE,
            started_at=ago(**delta),
            finished_at=ago(**delta),
        )

    return apply


def previous_run(**delta: float) -> Step:
    def apply(env: SimpleNamespace) -> None:
        scheduled("compliance.run_checks")(env)
        Run.objects.create(
            framework=catalog_ensure(),
            status=Run.Status.DONE,
            started_at=ago(**delta),
            finished_at=ago(**delta),
        )

    return apply


def job_failure(*, recovered: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        JobRun.objects.create(job="test.job", status=JobRun.Status.FAILED, started_at=ago(hours=2))
        if recovered:
            JobRun.objects.create(
                job="test.job",
                status=JobRun.Status.DONE,
                started_at=ago(hours=1),
                finished_at=ago(hours=1),
            )

    return apply


def job_running(**delta: float) -> Step:
    def apply(env: SimpleNamespace) -> None:
        JobRun.objects.create(
            job="test.job", status=JobRun.Status.RUNNING, started_at=ago(**delta)
        )

    return apply


def unbounded_task(env: SimpleNamespace) -> None:
    from cloudexpress.celery import app

    @app.task(name="tests.unbounded", acks_late=False)
    def unbounded() -> None:
        """A task acknowledged before it runs, registered for one test."""

    env.cleanups.append(lambda: app.tasks.pop("tests.unbounded", None))


def unknown_beat_task(env: SimpleNamespace) -> None:
    env.monkeypatch.setitem(
        beat.BEAT_SCHEDULE, "typo", {"task": "compliance.no_such_task", "schedule": 60}
    )


def capacity(**limits: float) -> Step:
    """Capacity thresholds: generous unless named, since this test process's
    own request latency and error figures depend on the tests run before."""
    values = {"queue_depth_max": 500.0, "request_p95_seconds_max": 3600.0, "error_rate_max": 1.0}
    return setting("CAPACITY_THRESHOLDS", {**values, **limits})


def certificate(days_left: int) -> Step:
    """Track one self-signed certificate that expires in ``days_left`` days."""

    def apply(env: SimpleNamespace) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "portal.test")])
        now = timezone.now()
        pem = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=30))
            .not_valid_after(now + timedelta(days=days_left))
            .sign(key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
        )
        path = env.tmp_path / f"portal-{days_left}.pem"
        path.write_bytes(pem)
        env.settings.TLS_CERTIFICATES = [str(path)]

    return apply


def unreachable_cache(env: SimpleNamespace) -> None:
    # A closed port on loopback: the connection is refused at once.
    env.settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }


def unapplied_migration(env: SimpleNamespace) -> None:
    MigrationRecorder.Migration.objects.filter(
        app="compliance", name="0003_load_shipped_catalog"
    ).delete()


def action_item(**delta: float) -> Step:
    def apply(env: SimpleNamespace) -> None:
        catalog_ensure()
        control = Control.objects.get(code="CX-MON-01")
        ActionItem.objects.create(
            control=control,
            owner_title="Officer",
            severity="high",
            summary="gap",
            due_at=timezone.now() + timedelta(**delta),
        )

    return apply


def catalog(*, unmapped: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        catalog_ensure()
        if unmapped:
            Control.objects.filter(code="CX-PHY-01").update(is_active=False)

    return apply


# --- data state ----------------------------------------------------------------


def session_expired(**delta: float) -> Step:
    def apply(env: SimpleNamespace) -> None:
        UserSession.objects.create(
            session_key=secrets.token_hex(16),
            session_data="",
            expire_date=timezone.now() + timedelta(**delta),
        )

    return apply


def attestation(*, altered: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        env.settings.MEDIA_ROOT = str(env.tmp_path)
        catalog_ensure()
        item = attestations.attestation_create(
            control=Control.objects.get(code="CX-PHY-01"),
            upload=b"provider SOC 2 report, reviewed",
            file_name="provider-report.pdf",
            statement="Reviewed the provider's report.",
            attested_by=UserFactory(),
            expires_at=ahead(days=300),
        )
        if altered:
            storage = item.file.storage
            storage.delete(item.file.name)
            storage.save(item.file.name, ContentFile(b"something else"))

    return apply


def inventory_review(*, current: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        from compliance.privacy import inventory

        env.settings.MEDIA_ROOT = str(env.tmp_path)
        item = inventory.inventory_review_attest(attested_by=UserFactory())
        if not current:
            # A review of the inventory as it was before a field was added.
            compliance_models.Attestation.objects.filter(pk=item.pk).update(
                statement=f"Data inventory reviewed. {inventory.DIGEST_PREFIX}{'0' * 64}."
            )
        attestations.attestation_review(attestation=item, reviewer=UserFactory())

    return apply


def contacts(dpo: str) -> Step:
    def apply(env: SimpleNamespace) -> None:
        env.settings.PORTAL_CONTACTS = {
            **django_settings.PORTAL_CONTACTS,
            "data_protection_officer": dpo,
        }

    return apply


def personal_column_hashed(env: SimpleNamespace) -> None:
    fields = dict(chain.HASHED_FIELDS)
    fields["audit.securityevent"] = (*fields["audit.securityevent"], "ip")
    env.monkeypatch.setattr(chain, "HASHED_FIELDS", fields)


def leaver(*, erased: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        if erased:
            UserFactory(
                email="erased-1@erased.invalid",
                full_name="",
                terminated_at=ago(days=4 * 365),
                is_active=False,
            )
        else:
            UserFactory(
                email="left@example.test",
                full_name="Left Person",
                terminated_at=ago(days=4 * 365),
                is_active=False,
            )

    return apply


def contact_email(email: str) -> Step:
    def apply(env: SimpleNamespace) -> None:
        user = UserFactory()
        User.objects.filter(pk=user.pk).update(email=email)

    return apply


def stale_password(days: int) -> Step:
    def apply(env: SimpleNamespace) -> None:
        user = UserFactory()
        User.objects.filter(pk=user.pk).update(password_changed_at=ago(days=days))

    return apply


def export_unrouted(env: SimpleNamespace) -> None:
    env.settings.ROOT_URLCONF = "tests.compliance.test_checks_export_urls"


def privacy_notice(**published: float) -> Step:
    def apply(env: SimpleNamespace) -> None:
        compliance_models.PrivacyNotice.objects.create(
            version=1,
            text="How CloudExpress handles personal data.",
            published_at=timezone.now() + timedelta(**published),
        )

    return apply


def consent_purpose(*, versioned: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        purpose = compliance_models.ConsentPurpose.objects.create(
            code="product-news", name="Product news"
        )
        if versioned:
            compliance_models.ConsentPurposeVersion.objects.create(
                purpose=purpose, version=1, text="We may e-mail you product news."
            )

    return apply


def privacy_request(*, answered: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        subject = UserFactory()
        compliance_models.DataSubjectRequest.objects.create(
            kind=compliance_models.DataSubjectRequest.Kind.ACCESS,
            subject=subject,
            subject_public_id=subject.public_id,
            received_at=ago(days=40),
            due_at=ago(days=10),
            completed_at=ago(days=20) if answered else None,
        )
        # A request inside its 30 days may still be open.
        compliance_models.DataSubjectRequest.objects.create(
            kind=compliance_models.DataSubjectRequest.Kind.ERASURE,
            subject=subject,
            subject_public_id=subject.public_id,
            received_at=ago(days=5),
            due_at=ahead(days=25),
        )

    return apply


def api_key(**created_ago: float) -> Step:
    def apply(env: SimpleNamespace) -> None:
        user = UserFactory()
        organization = OrganizationFactory()
        for created, revoked in ((ago(**created_ago), None), (ago(days=400), ago(days=300))):
            ApiKey.objects.create(
                name="ci",
                user=user,
                organization=organization,
                prefix=secrets.token_hex(6),
                secret_hash=secrets.token_hex(32),
                created_at=created,
                revoked_at=revoked,
            )

    return apply


def allowlist(cidr: str) -> Step:
    def apply(env: SimpleNamespace) -> None:
        IpAllowlistEntry.objects.create(organization=OrganizationFactory(), cidr=cidr)

    return apply


def privileged_with_device(*, confirmed: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        user = UserFactory(is_staff=True)
        TOTPDevice.objects.create(
            user=user,
            name="phone",
            # An enrolment that never entered a valid code: the sign-in flow
            # (accounts.auth.mfa) does not accept it as a second factor.
            confirmed=confirmed,
            confirmed_at=ago(days=1) if confirmed else None,
        )

    return apply


def invitation(*, valid_days: float) -> Step:
    def apply(env: SimpleNamespace) -> None:
        organization = OrganizationFactory()
        sent = Invitation.objects.create(
            organization=organization,
            email="invitee@example.test",
            role=roles_builtin_ensure()["member"],
            invited_by=UserFactory(),
            token_hash=secrets.token_hex(32),
        )
        Invitation.objects.filter(pk=sent.pk).update(
            expires_at=sent.created_at + timedelta(days=valid_days)
        )
        # An accepted invitation is spent, however long it was valid.
        Invitation.objects.create(
            organization=organization,
            email="joined@example.test",
            role=roles_builtin_ensure()["member"],
            status=Invitation.Status.ACCEPTED,
            accepted_at=ago(days=1),
            expires_at=ahead(days=60),
        )

    return apply


def access_review(**completed_ago: float) -> Step:
    def apply(env: SimpleNamespace) -> None:
        organization = OrganizationFactory()
        AccessReviewCampaign.objects.create(
            organization=organization, name="Q1", due_at=ahead(days=14)
        )  # still open: does not count either way
        AccessReviewCampaign.objects.create(
            organization=organization,
            name="Q0",
            due_at=ago(**completed_ago),
            status=AccessReviewCampaign.Status.COMPLETED,
            completed_at=ago(**completed_ago),
        )

    return apply


def approval(*, second_person: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        requester = UserFactory()
        ApprovalRequest.objects.create(
            organization=OrganizationFactory(),
            kind=ApprovalRequest.Kind.ROLE_GRANT,
            requested_by=requester,
            status=ApprovalRequest.Status.EXECUTED,
            decided_by=UserFactory() if second_person else None,
            decided_at=ago(hours=2) if second_person else None,
            executed_at=ago(hours=1),
        )

    return apply


def critical_alert(*, acknowledged: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        Alert.objects.create(
            rule="test.rule",
            key="subject",
            title="Many failed sign-ins",
            severity=Alert.Severity.CRITICAL,
            status=Alert.Status.ACKNOWLEDGED if acknowledged else Alert.Status.OPEN,
            first_event_at=ago(days=2),
            last_event_at=ago(days=2),
            created_at=ago(days=2),
            acknowledged_at=ago(days=2) if acknowledged else None,
        )
        # A fresh open alert is still inside its acknowledgement window.
        Alert.objects.create(
            rule="test.rule",
            key="other",
            title="Many failed sign-ins",
            severity=Alert.Severity.CRITICAL,
            first_event_at=ago(minutes=5),
            last_event_at=ago(minutes=5),
        )

    return apply


def closed_incident(*, reviewed: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        reviewer = UserFactory()
        Incident.objects.create(
            title="Credential stuffing",
            severity=Incident.Severity.HIGH,
            status=Incident.Status.CLOSED,
            started_at=ago(days=5),
            detected_at=ago(days=5),
            resolved_at=ago(days=3),
            closed_at=ago(days=1),
            review_summary="Rate limits tightened; lessons recorded." if reviewed else "",
            reviewed_by=reviewer if reviewed else None,
            reviewed_at=ago(days=1) if reviewed else None,
        )

    return apply


def restore_tested(*, status: str, **delta: float) -> Step:
    """Schedule the restore test and record one of ``status`` ``delta`` ago."""

    def apply(env: SimpleNamespace) -> None:
        scheduled("compliance.restore_test")(env)
        backup = compliance_models.BackupRecord.objects.create(vendor="postgresql")
        when = ago(**delta)
        RestoreTest.objects.create(
            backup=backup,
            started_at=when,
            finished_at=when,
            status=status,
            duration_seconds=12.0,
            recovery_point_seconds=600.0,
            tables_compared=40,
        )

    return apply


# --- governance registers --------------------------------------------------------


def gov_policy_review(days: float) -> Step:
    def apply(env: SimpleNamespace) -> None:
        gf.policy_with_version(reviewed_days_ago=days)

    return apply


def gov_acknowledged(*, acknowledged: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        policy = gf.policy_with_version()
        person = gf.member()
        if acknowledged:
            compliance_models.PolicyAcknowledgement.objects.create(
                version=policy.current_version, user=person.user
            )

    return apply


def gov_onboarding(*, trained: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        module = gf.TrainingModuleFactory(kind=compliance_models.TrainingModule.Kind.ONBOARDING)
        person = gf.member(joined=gf.days_ago(45))
        if trained:
            compliance_models.TrainingCompletion.objects.create(
                module=module, user=person.user, completed_at=gf.days_ago(40)
            )

    return apply


def gov_refresher(days: float) -> Step:
    def apply(env: SimpleNamespace) -> None:
        module = gf.TrainingModuleFactory(
            kind=compliance_models.TrainingModule.Kind.ANNUAL_REFRESHER
        )
        veteran = gf.member(joined=gf.days_ago(800))
        compliance_models.TrainingCompletion.objects.create(
            module=module, user=veteran.user, completed_at=gf.days_ago(days)
        )

    return apply


def gov_assessed(days: float) -> Step:
    def apply(env: SimpleNamespace) -> None:
        vendor = gf.VendorFactory(review_cadence_days=180)
        compliance_models.VendorAssessment.objects.create(
            vendor=vendor, assessor=vendor.owner, risk_rating="low", assessed_at=gf.days_ago(days)
        )

    return apply


def gov_agreements(dpa_renewal_in_days: int) -> Step:
    def apply(env: SimpleNamespace) -> None:
        vendor = gf.VendorFactory(classification="confidential")
        today = timezone.now().date()
        for kind, renewal in (("contract", 100), ("dpa", dpa_renewal_in_days)):
            compliance_models.VendorAgreement.objects.create(
                vendor=vendor,
                kind=kind,
                signed_on=today - timedelta(days=300),
                renewal_on=today + timedelta(days=renewal),
            )

    return apply


def gov_report(expires_in_days: int) -> Step:
    def apply(env: SimpleNamespace) -> None:
        today = timezone.now().date()
        compliance_models.VendorComplianceReport.objects.create(
            vendor=gf.VendorFactory(),
            kind="soc2_type2",
            issued_on=today - timedelta(days=400),
            expires_on=today + timedelta(days=expires_in_days),
        )

    return apply


def gov_disclosure(*, consented: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        from compliance.privacy.consent import consent_purpose_publish

        version = consent_purpose_publish(code="support", name="Support", text="Support.")
        if consented:
            compliance_models.ConsentRecord.objects.create(
                user=UserFactory(),
                purpose=version.purpose,
                version=version,
                decision=compliance_models.ConsentRecord.Decision.GRANTED,
                recorded_at=ago(days=3),
            )
        compliance_models.DataDisclosure.objects.create(
            vendor=gf.VendorFactory(),
            data_categories="e-mail",
            purpose="support",
            subject_count=1,
            consent_purpose=version.purpose,
            disclosed_at=ago(days=1),
        )

    return apply


def gov_risk(*, treated: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        if treated:
            gf.RiskFactory(likelihood=5, impact=3)
        else:
            gf.RiskFactory(likelihood=5, impact=3, treatment="", treatment_plan="")

    return apply


def gov_deployment(*, approved_first: bool) -> Step:
    def apply(env: SimpleNamespace) -> None:
        change = gf.ChangeFactory(
            status=compliance_models.ChangeRequest.Status.APPROVED,
            approver=gf.UserFactory(),
            approved_at=gf.days_ago(2),
        )
        deployed = gf.days_ago(1) if approved_first else gf.days_ago(3)
        compliance_models.Deployment.objects.create(change=change, deployed_at=deployed)

    return apply


def gov_dr_test(rto_minutes: int) -> Step:
    def apply(env: SimpleNamespace) -> None:
        plan = gf.PlanFactory()
        compliance_models.DisasterRecoveryTest.objects.create(
            plan=plan,
            kind="failover",
            performed_at=gf.days_ago(30),
            measured_rto_minutes=rto_minutes,
            measured_rpo_minutes=30,
            conducted_by=plan.owner,
        )

    return apply


def pending(reason: str) -> Case:
    return Case(broken=nothing, pending=reason, expect=(ResultStatus.NOT_IMPLEMENTED,))


BREAK_MEND: dict[str, Case] = {
    # configuration
    "cc-debug-off": Case(setting("DEBUG", True), setting("DEBUG", False)),
    "cc-password-length": Case(
        setting("AUTH_PASSWORD_VALIDATORS", validators(8)),
        setting("AUTH_PASSWORD_VALIDATORS", validators(12)),
    ),
    "cc-password-validators": Case(
        setting("AUTH_PASSWORD_VALIDATORS", validators(12, full=False)),
        setting("AUTH_PASSWORD_VALIDATORS", validators(12)),
    ),
    "cc-password-hasher": Case(
        setting("PASSWORD_HASHERS", ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]),
        setting("PASSWORD_HASHERS", ["django.contrib.auth.hashers.Argon2PasswordHasher"]),
    ),
    "cc-session-idle": Case(
        setting("SESSION_IDLE_SECONDS", 4 * 3600), setting("SESSION_IDLE_SECONDS", 15 * 60)
    ),
    "cc-session-lifetime": Case(
        setting("SESSION_COOKIE_AGE", 14 * 86400), setting("SESSION_COOKIE_AGE", 8 * 3600)
    ),
    "cc-secure-cookies": Case(
        production(SESSION_COOKIE_SECURE=False, CSRF_COOKIE_SECURE=True),
        production(SESSION_COOKIE_SECURE=True, CSRF_COOKIE_SECURE=True),
    ),
    "cc-hsts": Case(
        production(SECURE_HSTS_SECONDS=3600, SECURE_HSTS_INCLUDE_SUBDOMAINS=True),
        production(SECURE_HSTS_SECONDS=63072000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True),
    ),
    "cc-ssl-redirect": Case(
        production(
            SECURE_SSL_REDIRECT=False, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")
        ),
        production(
            SECURE_SSL_REDIRECT=True, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")
        ),
    ),
    "cc-trusted-proxies": Case(
        production(
            SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"), TRUSTED_PROXY_COUNT=0
        ),
        production(
            SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"), TRUSTED_PROXY_COUNT=1
        ),
    ),
    "cc-csp-strict": Case(csp(["'self'", "'unsafe-inline'"]), csp(["'self'"])),
    "cc-security-headers": Case(
        setting("X_FRAME_OPTIONS", "SAMEORIGIN"), setting("X_FRAME_OPTIONS", "DENY")
    ),
    "cc-secret-key": Case(
        production(SECRET_KEY=django_settings.DEVELOPMENT_SECRET_KEY),
        production(SECRET_KEY=STRONG_KEY),
    ),
    "c-database-tls": Case(database_sslmode("prefer"), database_sslmode("verify-full")),
    "cc-rate-limits": Case(throttling(False), throttling(True)),
    "cc-request-size-limit": Case(
        setting("DATA_UPLOAD_MAX_MEMORY_SIZE", None),
        setting("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440),
    ),
    "cc-metrics-protected": Case(
        setting("METRICS_ALLOWED_NETWORKS", ["0.0.0.0/0"]),
        setting("METRICS_ALLOWED_NETWORKS", ["10.0.0.0/8"]),
    ),
    # authentication
    "cc-lockout": Case(
        settings_(
            AUTHENTICATION_BACKENDS=AXES_BACKENDS,
            AXES_FAILURE_LIMIT=10,
            AXES_USERNAME_CALLABLE="accounts.lockout.username",
            AXES_COOLOFF_TIME=1,
        ),
        settings_(
            AUTHENTICATION_BACKENDS=AXES_BACKENDS,
            AXES_FAILURE_LIMIT=5,
            AXES_USERNAME_CALLABLE="accounts.lockout.username",
            AXES_COOLOFF_TIME=1,
        ),
    ),
    "cc-jwt-lifetime": Case(
        setting(
            "SIMPLE_JWT",
            {"ACCESS_TOKEN_LIFETIME": timedelta(hours=1), "ROTATE_REFRESH_TOKENS": True},
        ),
        # Reuse of a rotated refresh token is caught by accounts.TokenFamily.
        setting(
            "SIMPLE_JWT",
            {"ACCESS_TOKEN_LIFETIME": timedelta(minutes=5), "ROTATE_REFRESH_TOKENS": True},
        ),
    ),
    "cc-email-verification": Case(
        settings_(AUTHENTICATION_BACKENDS=ALLAUTH_BACKENDS, ACCOUNT_EMAIL_VERIFICATION="optional"),
        settings_(
            AUTHENTICATION_BACKENDS=ALLAUTH_BACKENDS, ACCOUNT_EMAIL_VERIFICATION="mandatory"
        ),
    ),
    "cc-mfa-privileged": Case(
        privileged_with_device(confirmed=False), privileged_with_device(confirmed=True)
    ),
    "cc-password-age": Case(stale_password(120), stale_password(10)),
    "cc-api-key-age": Case(api_key(days=120), api_key(days=10)),
    "cc-ip-allowlist": Case(allowlist("0.0.0.0/0"), allowlist("10.0.0.0/8")),
    "cc-invitations-expire": Case(invitation(valid_days=30), invitation(valid_days=7)),
    # access
    "cc-terminated-no-access": Case(terminated_user(session=True), terminated_user(session=False)),
    "cc-terminated-deactivated": Case(
        terminated_user(session=False, active=True), terminated_user(session=False, active=False)
    ),
    "cc-org-owner": Case(organization_with("member"), organization_with("owner")),
    "cc-operator-org": Case(operator(None), operator(django_settings.OPERATOR_ORGANIZATION_SLUG)),
    "cc-expired-grants": Case(grant_expiring(days=-1), grant_expiring(days=1)),
    "cc-staff-in-operator": Case(staff(in_operator=False), staff(in_operator=True)),
    "cc-superusers-limited": Case(superuser(staff_flag=False), superuser(staff_flag=True)),
    "cc-auditor-separation": Case(auditor(staff_flag=True), auditor(staff_flag=False)),
    "cc-roles-from-catalog": Case(roles(drift=True), roles(drift=False)),
    "cc-access-review": Case(access_review(days=200), access_review(days=20)),
    "cc-four-eyes": Case(approval(second_person=False), approval(second_person=True)),
    # audit trail
    "cc-auditlog-coverage": Case(unregistered(Membership), nothing),
    "cc-audit-chain": Case(chained_rows(tamper=True), chained_rows(tamper=False)),
    "pi-record-sequence": Case(sequence(gap=True), sequence(gap=False)),
    "cc-events-risk-scored": Case(events_scored(all_scored=False), events_scored(all_scored=True)),
    "cc-alerts-triaged": Case(
        critical_alert(acknowledged=False), critical_alert(acknowledged=True)
    ),
    "cc-incidents-reviewed": Case(closed_incident(reviewed=False), closed_incident(reviewed=True)),
    # operations
    "a-heartbeat": Case(heartbeat(minutes=20), heartbeat(seconds=30)),
    "cc-compliance-daily": Case(previous_run(days=3), previous_run(hours=2)),
    "cc-detection-job": Case(
        scheduled("audit.detection_run", every={"hours": 1}),
        scheduled("audit.detection_run", every={"minutes": 2}),
    ),
    "c-retention-job": Case(
        scheduled("compliance.retention_run", every={"hours": 30}, key="retention"),
        scheduled("compliance.retention_run", every={"hours": 3}, key="retention"),
    ),
    "a-backup-rpo": Case(
        scheduled("compliance.backup_run", every={"hours": 2}, key="backup"),
        scheduled("compliance.backup_run", every={"minutes": 10}, key="backup"),
    ),
    "a-restore-test": Case(
        restore_tested(status=RestoreTest.Status.PASSED, days=40),
        restore_tested(status=RestoreTest.Status.PASSED, days=5),
    ),
    "pi-jobs-succeed": Case(job_failure(recovered=False), job_failure(recovered=True)),
    "pi-jobs-not-stuck": Case(job_running(hours=3), job_running(minutes=10)),
    "pi-task-limits": Case(unbounded_task, nothing),
    "pi-beat-tasks-registered": Case(unknown_beat_task, nothing),
    "a-disk-space": Case(
        thresholds(disk_free_min_percent=100.1), thresholds(disk_free_min_percent=0.001)
    ),
    "a-database-size": Case(thresholds(database_max_bytes=1), nothing),
    "a-cache-reachable": Case(unreachable_cache, nothing),
    "a-capacity-thresholds": Case(capacity(queue_depth_max=-1), capacity()),
    "cc-certificate-expiry": Case(certificate(10), certificate(90)),
    "cc-migrations-applied": Case(unapplied_migration, nothing),
    "cc-gaps-on-time": Case(action_item(days=-1), action_item(days=7)),
    "cc-catalog-mapped": Case(catalog(unmapped=True), catalog(unmapped=False)),
    # data
    "c-sessions-purged": Case(session_expired(days=-3), session_expired(days=1)),
    "c-rows-within-retention": Case(old_event(days=8 * 365), old_event(days=1)),
    "c-attestations-intact": Case(attestation(altered=True), attestation(altered=False)),
    "cc-encryption-key-age": Case(
        encryption_key(age_days=400), encryption_key(age_days=0, rotate=True)
    ),
    "p-privacy-contact": Case(contacts("nobody"), contacts("dpo@cloudexpress.test")),
    "p-chain-without-personal-data": Case(personal_column_hashed, nothing),
    "p-inventory-reviewed": Case(inventory_review(current=False), inventory_review(current=True)),
    "p-leavers-erased": Case(leaver(erased=False), leaver(erased=True)),
    "p-contact-data-valid": Case(
        contact_email("not-an-address"), contact_email("fine@example.test")
    ),
    "p-privacy-notice": Case(privacy_notice(days=3), privacy_notice(days=-1)),
    "p-consent-versioned": Case(consent_purpose(versioned=False), consent_purpose(versioned=True)),
    "p-requests-answered": Case(privacy_request(answered=False), privacy_request(answered=True)),
    "p-export-available": Case(export_unrouted, nothing),
    # governance registers
    "gov-policies-reviewed": Case(gov_policy_review(400), gov_policy_review(20)),
    "gov-policies-acknowledged": Case(
        gov_acknowledged(acknowledged=False), gov_acknowledged(acknowledged=True)
    ),
    "gov-training-onboarding": Case(gov_onboarding(trained=False), gov_onboarding(trained=True)),
    "gov-training-refresher": Case(gov_refresher(400), gov_refresher(10)),
    "gov-vendors-assessed": Case(gov_assessed(200), gov_assessed(1)),
    "gov-vendor-agreements": Case(gov_agreements(-1), gov_agreements(365)),
    "gov-vendor-reports": Case(gov_report(-1), gov_report(355)),
    "gov-disclosures-consented": Case(
        gov_disclosure(consented=False), gov_disclosure(consented=True)
    ),
    "gov-risks-treated": Case(gov_risk(treated=False), gov_risk(treated=True)),
    "gov-changes-approved": Case(
        gov_deployment(approved_first=False), gov_deployment(approved_first=True)
    ),
    "gov-dr-test": Case(gov_dr_test(241), gov_dr_test(240)),
}


@pytest.fixture
def env(settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Any:
    namespace = SimpleNamespace(
        settings=settings, monkeypatch=monkeypatch, tmp_path=tmp_path, cleanups=[]
    )
    yield namespace
    for cleanup in reversed(namespace.cleanups):
        cleanup()


def outcome_of(check_id: str) -> registry.Outcome:
    return registry.evaluate(registry.get(check_id)).outcome


def test_every_registered_check_has_a_break_and_mend_case() -> None:
    registered = set(registry.registered())
    assert registered - set(BREAK_MEND) == set(), "checks without a break-and-mend case"
    assert set(BREAK_MEND) - registered == set(), "cases for checks that are not registered"


def test_there_are_at_least_forty_checks_across_all_five_categories() -> None:
    from compliance.catalog import category_prefix

    catalog_ensure()
    checks = registry.registered()
    assert len(checks) >= 40
    codes = dict(Control.objects.values_list("code", "pk"))
    categories = set()
    for spec in checks.values():
        for control_code in spec.controls:
            assert control_code in codes, f"{spec.id} names unknown control {control_code}"
            for criterion in Control.objects.get(code=control_code).criteria.all():
                categories.add(category_prefix(criterion.code))
    assert categories == {"CC", "A", "PI", "C", "P"}


@pytest.mark.parametrize("check_id", sorted(BREAK_MEND))
def test_check_fails_when_its_control_is_broken(check_id: str, env: Any) -> None:
    case = BREAK_MEND[check_id]
    case.broken(env)
    outcome = outcome_of(check_id)
    assert outcome.status in case.expect, outcome
    assert outcome.reason


@pytest.mark.parametrize("check_id", sorted(BREAK_MEND))
def test_check_passes_when_its_control_is_mended(check_id: str, env: Any) -> None:
    case = BREAK_MEND[check_id]
    if case.mended is None:
        pytest.skip(case.pending)
    case.mended(env)
    outcome = outcome_of(check_id)
    assert outcome.status == ResultStatus.PASS, outcome
