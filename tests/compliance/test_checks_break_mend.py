"""Every check, broken and mended.

``BREAK_MEND`` holds one case per registered check: ``broken`` puts the live
state in a shape that violates the control and the check must not pass;
``mended`` repairs it and the check must pass. A check whose area is built
elsewhere and not on this branch has ``pending`` instead of ``mended``: its
break case proves it reports ``not_implemented`` (which scores as failing),
and the mend case is skipped with the reason. The meta-test fails when a
registered check has no case.
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

from accounts.models import Membership, Organization, Permission, User, UserSession
from accounts.services import roles_builtin_ensure
from audit import chain
from audit.models import AuditLogEntry, SecurityEvent
from audit.services import security_event_record
from cloudexpress import beat
from compliance import attestations
from compliance.catalog import catalog_ensure
from compliance.checks import registry
from compliance.models import ActionItem, Control, JobRun, ResultStatus, Run
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


def scheduled(task: str, *, every: dict[str, float] | None = None, status: str = "done") -> Step:
    """Schedule ``task`` on beat and record its last run ``every`` ago."""

    def apply(env: SimpleNamespace) -> None:
        env.monkeypatch.setitem(beat.BEAT_SCHEDULE, f"test-{task}", {"task": task, "schedule": 60})
        if every is not None:
            when = ago(**every)
            JobRun.objects.create(job=task, status=status, started_at=when, finished_at=when)

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


def export_routed(env: SimpleNamespace) -> None:
    env.settings.ROOT_URLCONF = "tests.compliance.test_checks_export_urls"


def pending(reason: str) -> Case:
    return Case(broken=nothing, pending=reason, expect=(ResultStatus.NOT_IMPLEMENTED,))


GOVERNANCE_PENDING = (
    "the governance registers are built on their own branch, whose tests "
    "(tests/compliance/test_governance_checks.py) break and mend each rule"
)

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
        pending="a mended state needs the token families of the authentication work "
        "(simplejwt's blacklist app cannot be installed for one test)",
    ),
    "cc-email-verification": Case(
        settings_(AUTHENTICATION_BACKENDS=ALLAUTH_BACKENDS, ACCOUNT_EMAIL_VERIFICATION="optional"),
        settings_(
            AUTHENTICATION_BACKENDS=ALLAUTH_BACKENDS, ACCOUNT_EMAIL_VERIFICATION="mandatory"
        ),
    ),
    "cc-mfa-privileged": pending("the MFA device model lands with the authentication work"),
    "cc-password-age": Case(stale_password(120), stale_password(10)),
    "cc-api-key-age": pending("the API key model lands with the authentication work"),
    "cc-ip-allowlist": pending("the allowlist model lands with the authentication work"),
    "cc-invitations-expire": pending("the invitation model lands with the roles work"),
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
    "cc-access-review": pending("access-review campaigns land with the roles work"),
    "cc-four-eyes": pending("approval requests land with the roles work"),
    # audit trail
    "cc-auditlog-coverage": Case(unregistered(Membership), nothing),
    "cc-audit-chain": Case(chained_rows(tamper=True), chained_rows(tamper=False)),
    "pi-record-sequence": Case(sequence(gap=True), sequence(gap=False)),
    "cc-events-risk-scored": Case(events_scored(all_scored=False), events_scored(all_scored=True)),
    "cc-alerts-triaged": pending("alerts land with the detection work"),
    "cc-incidents-reviewed": pending("incidents land with the detection work"),
    # operations
    "a-heartbeat": Case(heartbeat(minutes=20), heartbeat(seconds=30)),
    "cc-compliance-daily": Case(previous_run(days=3), previous_run(hours=2)),
    "cc-detection-job": Case(
        scheduled("audit.detection_run", every={"hours": 1}),
        scheduled("audit.detection_run", every={"minutes": 2}),
    ),
    "c-retention-job": Case(
        scheduled("compliance.retention", every={"hours": 30}),
        scheduled("compliance.retention", every={"hours": 3}),
    ),
    "a-backup-rpo": Case(
        scheduled("compliance.backup", every={"hours": 2}),
        scheduled("compliance.backup", every={"minutes": 10}),
    ),
    "a-restore-test": Case(
        scheduled("compliance.restore_test", every={"days": 40}),
        scheduled("compliance.restore_test", every={"days": 5}),
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
    "cc-migrations-applied": Case(unapplied_migration, nothing),
    "cc-gaps-on-time": Case(action_item(days=-1), action_item(days=7)),
    "cc-catalog-mapped": Case(catalog(unmapped=True), catalog(unmapped=False)),
    # data
    "c-sessions-purged": Case(session_expired(days=-3), session_expired(days=1)),
    "c-rows-within-retention": Case(old_event(days=8 * 365), old_event(days=1)),
    "c-attestations-intact": Case(attestation(altered=True), attestation(altered=False)),
    "cc-encryption-key-age": pending("the key ring lands with the data-lifecycle work"),
    "p-privacy-contact": Case(contacts("nobody"), contacts("dpo@cloudexpress.test")),
    "p-chain-without-personal-data": Case(personal_column_hashed, nothing),
    "p-leavers-erased": Case(leaver(erased=False), leaver(erased=True)),
    "p-contact-data-valid": Case(
        contact_email("not-an-address"), contact_email("fine@example.test")
    ),
    "p-privacy-notice": pending("the privacy notice lands with the privacy work"),
    "p-consent-versioned": pending("consent purposes land with the privacy work"),
    "p-requests-answered": pending("privacy requests land with the privacy work"),
    "p-export-available": Case(nothing, export_routed, expect=(ResultStatus.NOT_IMPLEMENTED,)),
    # governance registers
    **{
        check_id: pending(GOVERNANCE_PENDING)
        for check_id in (
            "gov-policies-reviewed",
            "gov-policies-acknowledged",
            "gov-training-onboarding",
            "gov-training-refresher",
            "gov-vendors-assessed",
            "gov-vendor-agreements",
            "gov-vendor-reports",
            "gov-disclosures-consented",
            "gov-risks-treated",
            "gov-changes-approved",
            "gov-dr-test",
        )
    },
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
