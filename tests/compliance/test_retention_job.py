"""The retention job, with controlled time: each period on each data type,
legal holds, resume after a crash mid-batch, idempotency, the dry run, and
a chain that still verifies afterwards."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from dateutil.relativedelta import relativedelta
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command

from accounts.models import Organization, User
from audit import verification
from audit.models import AuditLogEntry, SecurityEvent
from audit.services import security_event_record
from compliance.models import (
    ApiUsage,
    ArchiveObject,
    BackupRecord,
    DataType,
    DeletionCertificate,
    JobRun,
    RetentionBatch,
    RetentionRun,
)
from compliance.privacy import retention
from compliance.privacy.archive import archive_read
from compliance.privacy.holds import legal_hold_place, legal_hold_release
from compliance.privacy.policies import retention_policies_ensure
from tests import factories
from tests.compliance.privacy_support import assert_chain_verifies, operator_member

pytestmark = pytest.mark.django_db

NOW = datetime(2030, 6, 15, 3, 0, tzinfo=UTC)


def at(moment: datetime):
    return time_machine.travel(moment, tick=False)


def event_at(moment: datetime, **kwargs) -> SecurityEvent:
    with at(moment):
        return security_event_record(event_type=SecurityEvent.Type.SIGN_IN_FAILED, **kwargs)


def run_now(**kwargs) -> RetentionRun:
    with at(NOW):
        return retention.retention_execute(**kwargs)


@pytest.fixture
def operator(db) -> User:
    return factories.operator_member("admin")


@pytest.fixture(autouse=True)
def _small_batches(settings, tmp_path):
    settings.RETENTION_BATCH_SIZE = 3
    settings.RETENTION_ARCHIVE_BATCH_SIZE = 3
    settings.STORAGES = {
        **settings.STORAGES,
        "privacy_archive": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "archive")},
        },
    }
    retention.batch_hook = None
    yield
    retention.batch_hook = None


# --- Each period on each data type ------------------------------------------


def test_default_policies_match_the_compliance_document() -> None:
    policies = retention_policies_ensure()
    assert {k: (p.amount, p.unit) for k, p in policies.items()} == {
        DataType.AUDIT_LOGS: (7, "years"),
        DataType.SECURITY_EVENTS: (7, "years"),
        DataType.USER_DATA: (3, "years"),
        DataType.USAGE_DATA: (13, "months"),
        DataType.NOTIFICATIONS: (90, "days"),
        DataType.BACKUPS: (1, "years"),
    }


def test_security_events_go_after_seven_years_and_not_a_day_before() -> None:
    seven_years = NOW - relativedelta(years=7)
    old = [event_at(seven_years - timedelta(days=1, minutes=i)) for i in range(4, 0, -1)]
    young = event_at(seven_years + timedelta(days=1))

    run = run_now()

    assert not SecurityEvent.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert SecurityEvent.objects.filter(pk=young.pk).exists()
    assert run.counts[DataType.SECURITY_EVENTS] == 4
    assert run.verification[DataType.SECURITY_EVENTS]["ok"] is True
    assert run.verification[DataType.SECURITY_EVENTS]["chain"] is True
    assert_chain_verifies(SecurityEvent, run.anchors[DataType.SECURITY_EVENTS])


def test_audit_logs_go_after_seven_years_archived_and_the_chain_verifies() -> None:
    seven_years = NOW - relativedelta(years=7)
    with at(seven_years - timedelta(days=2)):
        old_orgs = [factories.OrganizationFactory() for _ in range(4)]
    with at(seven_years + timedelta(days=1)):
        young_org = factories.OrganizationFactory()
    org_type = ContentType.objects.get_for_model(Organization)
    old_ids = set(
        AuditLogEntry.objects.filter(
            content_type=org_type, object_pk__in=[str(o.pk) for o in old_orgs]
        ).values_list("pk", flat=True)
    )
    assert len(old_ids) == 4

    run = run_now()

    assert not AuditLogEntry.objects.filter(pk__in=old_ids).exists()
    assert AuditLogEntry.objects.filter(
        content_type=org_type, object_pk=str(young_org.pk)
    ).exists()
    assert run.counts[DataType.AUDIT_LOGS] == 4
    assert_chain_verifies(AuditLogEntry, run.anchors[DataType.AUDIT_LOGS])

    # Archived first: the archives decrypt to exactly the deleted rows.
    archived = [
        row["id"]
        for archive in ArchiveObject.objects.filter(data_type=DataType.AUDIT_LOGS)
        for row in archive_read(archive)
    ]
    assert sorted(archived) == sorted(old_ids)

    # One audit entry per batch, naming the deleted keys.
    trail = AuditLogEntry.objects.filter(object_pk__startswith=f"retention:{run.public_id}:")
    batches = RetentionBatch.objects.filter(run=run, data_type=DataType.AUDIT_LOGS)
    assert trail.filter(additional_data__data_type=DataType.AUDIT_LOGS).count() == batches.count()
    ranges = [
        r
        for entry in trail
        for r in entry.additional_data["id_ranges"]
        if entry.additional_data["data_type"] == DataType.AUDIT_LOGS
    ]
    assert sorted(k for a, b in ranges for k in range(a, b + 1)) == sorted(old_ids)


def test_usage_data_goes_after_thirteen_months() -> None:
    org = factories.OrganizationFactory()
    cutoff = (NOW - relativedelta(months=13)).date()
    old = ApiUsage.objects.create(organization=org, endpoint="GET /x", day=cutoff - timedelta(1))
    edge = ApiUsage.objects.create(organization=org, endpoint="GET /x", day=cutoff)
    young = ApiUsage.objects.create(organization=org, endpoint="GET /y", day=cutoff + timedelta(1))

    run = run_now()

    assert list(ApiUsage.objects.order_by("pk").values_list("pk", flat=True)) == [
        edge.pk,
        young.pk,
    ]
    assert not ApiUsage.objects.filter(pk=old.pk).exists()
    assert run.counts[DataType.USAGE_DATA] == 1


def test_user_data_is_erased_three_years_after_termination() -> None:
    three_years = NOW - relativedelta(years=3)
    gone = factories.UserFactory(terminated_at=three_years - timedelta(days=1))
    kept = factories.UserFactory(terminated_at=three_years + timedelta(days=1))
    active = factories.UserFactory()
    gone_email = gone.email

    run = run_now()

    gone.refresh_from_db()
    kept.refresh_from_db()
    active.refresh_from_db()
    assert gone.email.endswith("@erased.invalid") and gone.full_name == ""
    assert not User.objects.filter(email=gone_email).exists()
    assert "@erased.invalid" not in kept.email and "@erased.invalid" not in active.email
    assert run.counts[DataType.USER_DATA] == 1
    assert run.verification[DataType.USER_DATA] == {"ok": True, "remaining": 0}


def test_backups_go_after_one_year() -> None:
    old = BackupRecord.objects.create(
        vendor="postgresql", created_at=NOW - relativedelta(years=1, days=1)
    )
    young = BackupRecord.objects.create(
        vendor="postgresql", created_at=NOW - relativedelta(days=364)
    )

    run = run_now()

    old.refresh_from_db()
    young.refresh_from_db()
    assert old.status == BackupRecord.Status.PRUNED
    assert young.status == BackupRecord.Status.DONE
    assert run.counts[DataType.BACKUPS] == 1


def test_the_newest_row_of_a_chain_stays_even_when_expired() -> None:
    only = event_at(NOW - relativedelta(years=8))
    run = run_now()
    # The head is kept, so the next row continues the sequence instead of
    # restarting the chain at the genesis hash.
    assert SecurityEvent.objects.filter(pk=only.pk).exists()
    assert run.verification[DataType.SECURITY_EVENTS]["kept_behind_barrier"] == 1
    assert SecurityEvent.objects.order_by("-seq").first().seq == only.seq + 1
    assert_chain_verifies(SecurityEvent)


def test_notifications_go_after_ninety_days_except_a_held_recipients(operator) -> None:
    from audit.models import Notification

    kept_user, held_user, other = factories.UserFactory.create_batch(3)

    def note(user: User, age: timedelta, key: str) -> Notification:
        with at(NOW - age):
            return Notification.objects.create(
                recipient=user, kind=Notification.Kind.REMINDER, title="t", dedup_key=key
            )

    old = note(other, timedelta(days=91), "old")
    young = note(kept_user, timedelta(days=89), "young")
    held = note(held_user, timedelta(days=200), "held")
    legal_hold_place(owner=operator, user=held_user, reason="litigation")
    run = run_now()
    assert not Notification.objects.filter(pk=old.pk).exists()
    assert set(Notification.objects.values_list("pk", flat=True)) == {young.pk, held.pk}
    assert run.counts[DataType.NOTIFICATIONS] == 1
    assert run.cursor[DataType.NOTIFICATIONS]["done"] is True
    assert run.verification[DataType.NOTIFICATIONS]["ok"] is True


def test_an_edited_policy_applies_and_its_change_is_audited(operator) -> None:
    from compliance.models import RetentionPolicy
    from compliance.privacy.policies import retention_policy_update

    retention_policies_ensure()
    event = event_at(NOW - relativedelta(years=2))
    event_at(NOW - timedelta(days=1))
    retention_policy_update(data_type=DataType.SECURITY_EVENTS, amount=1, unit="years")

    run_now()

    assert not SecurityEvent.objects.filter(pk=event.pk).exists()
    policy = RetentionPolicy.objects.get(data_type=DataType.SECURITY_EVENTS)
    change = AuditLogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(RetentionPolicy),
        object_pk=str(policy.pk),
        action=AuditLogEntry.Action.UPDATE,
    ).get()
    assert change.changes["amount"] == [7, 1]


# --- Legal holds --------------------------------------------------------------


def test_a_user_hold_keeps_their_events_and_the_chain_stays_whole(operator) -> None:
    held_user, other = factories.UserFactory(), factories.UserFactory()
    old = NOW - relativedelta(years=8)
    before = [event_at(old + timedelta(minutes=i), actor=other) for i in range(3)]
    held = [event_at(old + timedelta(minutes=10 + i), actor=held_user) for i in range(2)]
    after = event_at(old + timedelta(minutes=20), actor=other)
    hold = legal_hold_place(owner=operator, reason="litigation 2030-17", user=held_user)

    run = run_now()

    assert not SecurityEvent.objects.filter(pk__in=[e.pk for e in before]).exists()
    assert SecurityEvent.objects.filter(pk__in=[e.pk for e in held]).count() == 2
    # Behind the held rows the chain cannot lose a link, so this one waits.
    assert SecurityEvent.objects.filter(pk=after.pk).exists()
    assert run.verification[DataType.SECURITY_EVENTS]["kept_behind_barrier"] == 1
    assert run.verification[DataType.SECURITY_EVENTS]["ok"] is True
    assert run.held[DataType.SECURITY_EVENTS]["rows"] == 2
    assert_chain_verifies(SecurityEvent, run.anchors[DataType.SECURITY_EVENTS])

    # Released, the next day's run takes them all.
    legal_hold_release(hold=hold)
    with at(NOW + timedelta(days=1)):
        retention.retention_execute()
    assert not SecurityEvent.objects.filter(pk__in=[*[e.pk for e in held], after.pk]).exists()


def test_an_organization_hold_keeps_its_usage_and_its_users(operator) -> None:
    held_org, other_org = factories.OrganizationFactory(), factories.OrganizationFactory()
    old_day = (NOW - relativedelta(months=14)).date()
    kept = ApiUsage.objects.create(organization=held_org, endpoint="GET /a", day=old_day)
    gone = ApiUsage.objects.create(organization=other_org, endpoint="GET /a", day=old_day)
    member = factories.MembershipFactory(
        organization=held_org,
        user=factories.UserFactory(terminated_at=NOW - relativedelta(years=4)),
    ).user
    legal_hold_place(owner=operator, reason="regulator inquiry", organization=held_org)

    run = run_now()

    assert ApiUsage.objects.filter(pk=kept.pk).exists()
    assert not ApiUsage.objects.filter(pk=gone.pk).exists()
    member.refresh_from_db()
    assert not member.email.endswith("@erased.invalid")
    assert run.held[DataType.USER_DATA] == {"rows": 1}
    assert run.verification[DataType.USAGE_DATA]["ok"] is True


def test_a_data_type_hold_stops_that_type_only(operator) -> None:
    event = event_at(NOW - relativedelta(years=8))
    org = factories.OrganizationFactory()
    usage = ApiUsage.objects.create(
        organization=org, endpoint="GET /a", day=(NOW - relativedelta(years=2)).date()
    )
    legal_hold_place(owner=operator, reason="audit", data_type=DataType.SECURITY_EVENTS)

    run = run_now()

    assert SecurityEvent.objects.filter(pk=event.pk).exists()
    assert not ApiUsage.objects.filter(pk=usage.pk).exists()
    assert run.held[DataType.SECURITY_EVENTS]["data_type_hold"] is True


def test_a_hold_names_exactly_one_target(operator) -> None:
    from cloudexpress.api.exceptions import ServiceError

    with pytest.raises(ServiceError):
        legal_hold_place(owner=operator, reason="x", user=operator, data_type=DataType.BACKUPS)
    with pytest.raises(ServiceError):
        legal_hold_place(owner=operator, reason="  ", user=operator)


# --- Crash, resume, idempotency -------------------------------------------------


def test_a_crash_mid_batch_rolls_the_batch_back_and_the_next_run_resumes() -> None:
    old = NOW - relativedelta(years=8)
    events = [event_at(old + timedelta(minutes=i)) for i in range(8)]  # batches of 3: 3, 3, 2
    event_at(NOW - timedelta(days=1))

    def crash(data_type: str, number: int) -> None:
        if data_type == DataType.SECURITY_EVENTS and number == 2:
            raise RuntimeError("simulated crash inside batch 2")

    retention.batch_hook = crash
    with pytest.raises(RuntimeError):
        run_now()

    run = RetentionRun.objects.get()
    assert run.status == RetentionRun.Status.FAILED
    assert run.counts[DataType.SECURITY_EVENTS] == 3
    assert SecurityEvent.objects.filter(pk__in=[e.pk for e in events]).count() == 5
    assert JobRun.objects.get(job="retention").status == JobRun.Status.FAILED
    # Batch 2's archive was rolled back with it: only batch 1 is on record.
    assert ArchiveObject.objects.filter(data_type=DataType.SECURITY_EVENTS).count() == 1

    retention.batch_hook = None
    resumed = run_now()

    assert resumed.pk == run.pk
    assert resumed.status == RetentionRun.Status.DONE
    assert resumed.counts[DataType.SECURITY_EVENTS] == 8
    assert not SecurityEvent.objects.filter(pk__in=[e.pk for e in events]).exists()
    numbers = list(
        RetentionBatch.objects.filter(run=run, data_type=DataType.SECURITY_EVENTS)
        .order_by("number")
        .values_list("number", "row_count")
    )
    assert numbers == [(1, 3), (2, 3), (3, 2)]
    assert ArchiveObject.objects.filter(data_type=DataType.SECURITY_EVENTS).count() == 3
    assert_chain_verifies(SecurityEvent, resumed.anchors[DataType.SECURITY_EVENTS])


def _audit_verify() -> str:
    """The audit area's own verifier, whole chains, personal digests too."""
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue()


def test_audit_verify_passes_after_retention_and_between_its_batches() -> None:
    old = NOW - relativedelta(years=8)
    with at(old):
        for _ in range(4):
            factories.OrganizationFactory()  # audit entries, 8 years old
    for i in range(7):
        event_at(old + timedelta(minutes=i), ip="198.51.100.7", detail={"n": i})
    with at(NOW - timedelta(days=1)):
        factories.OrganizationFactory()
    event_at(NOW - timedelta(days=1))
    assert _audit_verify().count("OK ") == 2

    # Inside every batch, after its delete: the chain already starts at the
    # retained-start anchor the batch wrote.
    seen = []

    def verify_inside(data_type: str, number: int) -> None:
        model = AuditLogEntry if data_type == DataType.AUDIT_LOGS else SecurityEvent
        if data_type in (DataType.AUDIT_LOGS, DataType.SECURITY_EVENTS):
            report = verification.verify_chain(model)
            assert report.ok, report.problem
            seen.append((data_type, number))

    retention.batch_hook = verify_inside
    run = run_now()

    assert run.counts[DataType.SECURITY_EVENTS] == 7
    assert run.counts[DataType.AUDIT_LOGS] >= 4
    assert (DataType.SECURITY_EVENTS, 3) in seen and (DataType.AUDIT_LOGS, 1) in seen
    output = _audit_verify()
    assert output.count("OK ") == 2, output


def test_a_second_run_the_same_day_deletes_nothing() -> None:
    old = NOW - relativedelta(years=8)
    for i in range(4):
        event_at(old + timedelta(minutes=i))
    event_at(NOW - timedelta(days=1))
    first = run_now()
    assert first.counts[DataType.SECURITY_EVENTS] == 4
    # Rows that expire between the two runs of one day wait for tomorrow.
    event_at(old + timedelta(minutes=10))
    remaining = SecurityEvent.objects.count()
    batches = RetentionBatch.objects.count()

    with at(NOW + timedelta(hours=5)):
        second = retention.retention_execute()

    assert second.pk == first.pk
    assert SecurityEvent.objects.count() == remaining
    assert RetentionBatch.objects.count() == batches
    assert RetentionRun.objects.count() == 1
    assert DeletionCertificate.objects.count() == 1


def test_the_dry_run_reports_and_deletes_nothing() -> None:
    old = NOW - relativedelta(years=8)
    for i in range(5):
        event_at(old + timedelta(minutes=i))
    event_at(NOW - timedelta(days=1))
    org = factories.OrganizationFactory()
    ApiUsage.objects.create(
        organization=org, endpoint="GET /a", day=(NOW - relativedelta(years=2)).date()
    )
    before = SecurityEvent.objects.count()

    with at(NOW):
        report = retention.retention_preview()

    assert report[DataType.SECURITY_EVENTS]["would_delete"] == 5
    assert report[DataType.USAGE_DATA]["would_delete"] == 1
    assert SecurityEvent.objects.count() == before
    assert ApiUsage.objects.count() == 1
    assert not RetentionRun.objects.exists()


# --- Certificate -----------------------------------------------------------------


def _runs(keys: list[int]) -> list[tuple[int, int]]:
    runs: list[list[int]] = []
    for key in keys:
        if runs and key == runs[-1][1] + 1:
            runs[-1][1] = key
        else:
            runs.append([key, key])
    return [(first, last) for first, last in runs]


def test_the_certificate_hashes_the_deleted_identifiers_as_key_runs_and_renders_as_pdf() -> None:
    import io

    from pypdf import PdfReader

    from compliance.privacy.certificates import certificate_pdf

    old = NOW - relativedelta(years=8)
    events = [event_at(old + timedelta(minutes=i)) for i in range(4)]
    event_at(NOW - timedelta(days=1))
    org = factories.OrganizationFactory()
    usage = ApiUsage.objects.create(
        organization=org, endpoint="GET /a", day=(NOW - relativedelta(years=2)).date()
    )

    run = run_now()
    certificate = DeletionCertificate.objects.get(run=run)

    # Maximal runs of consecutive keys, one line each, data types by name.
    lines = [
        f"security_events:{first}-{last}" for first, last in _runs(sorted(e.pk for e in events))
    ]
    lines.append(f"usage_data:{usage.pk}-{usage.pk}")
    expected = hashlib.sha256("".join(line + "\n" for line in lines).encode()).hexdigest()
    assert certificate.identifier_count == 5
    assert certificate.identifiers_sha256 == expected
    assert certificate.counts[DataType.SECURITY_EVENTS] == 4

    pdf = certificate_pdf(certificate)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert pdf.startswith(b"%PDF")
    assert expected in text.replace("\n", "")
    assert "Confidential" in text


def test_the_certificate_renderer_refuses_every_url() -> None:
    from compliance.privacy.certificates import _refuse_every_url

    with pytest.raises(ValueError):
        _refuse_every_url("file:///etc/passwd")
    with pytest.raises(ValueError):
        _refuse_every_url("http://127.0.0.1/")


# --- API -------------------------------------------------------------------------


def test_policy_list_and_execute_need_their_permissions(api_client) -> None:
    member = factories.MembershipFactory().user
    admin = operator_member("admin")

    api_client.force_authenticate(admin)
    listed = api_client.get("/api/compliance/retention/policy")
    assert listed.status_code == 200
    assert {p["data_type"] for p in listed.json()["results"]} == set(DataType.values)
    dry = api_client.post("/api/compliance/retention/execute", {"dry_run": True}, format="json")
    assert dry.status_code == 200 and dry.json()["dry_run"] is True
    assert not RetentionRun.objects.exists()

    api_client.force_authenticate(member)
    assert api_client.get("/api/compliance/retention/policy").status_code == 403
    refused = api_client.post("/api/compliance/retention/execute", {}, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"


def test_execute_runs_and_returns_the_run_with_its_certificate(api_client) -> None:
    admin = operator_member("admin")
    event = event_at(NOW - relativedelta(years=8))
    event_at(NOW - timedelta(days=1))
    api_client.force_authenticate(admin)
    with at(NOW):
        response = api_client.post("/api/compliance/retention/execute", {}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "done"
    assert body["counts"][DataType.SECURITY_EVENTS] == 1
    assert not SecurityEvent.objects.filter(pk=event.pk).exists()
    certificate = api_client.get(f"/api/compliance/certificates/{body['certificate']}.pdf")
    assert certificate.status_code == 200
    assert certificate.content.startswith(b"%PDF")


def test_policy_list_runs_a_constant_number_of_queries(
    api_client, django_assert_max_num_queries
) -> None:
    admin = factories.operator_member("admin")
    api_client.force_authenticate(admin)
    retention_policies_ensure()
    # A fixed cost whatever the rows: the authorization service (membership,
    # role, its permissions), the policies, and the day's usage counter row.
    with django_assert_max_num_queries(10):
        assert api_client.get("/api/compliance/retention/policy").status_code == 200


def test_rows_kept_between_deleted_ones_leave_exact_key_runs(operator) -> None:
    held_org, other_org = factories.OrganizationFactory(), factories.OrganizationFactory()
    old_day = (NOW - relativedelta(months=14)).date()
    rows = [
        ApiUsage.objects.create(
            organization=held_org if i % 2 else other_org, endpoint=f"GET /{i}", day=old_day
        )
        for i in range(6)
    ]
    legal_hold_place(owner=operator, reason="inquiry", organization=held_org)

    run = run_now()

    gone = [r.pk for r in rows if r.organization_id == other_org.pk]
    kept = [r.pk for r in rows if r.organization_id == held_org.pk]
    assert sorted(ApiUsage.objects.values_list("pk", flat=True)) == kept
    ranges = [
        r
        for batch in RetentionBatch.objects.filter(run=run, data_type=DataType.USAGE_DATA)
        for r in batch.id_ranges
    ]
    assert ranges == [[pk, pk] for pk in gone]
    assert run.counts[DataType.USAGE_DATA] == 3
