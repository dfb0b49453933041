"""The audit pages: who may see them, what the filters select, constant
query counts, detail pages and CSV exports no spreadsheet will evaluate."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Membership
from audit.models import AuditLogEntry, SecurityEvent
from audit.selectors import audit_access_allowed, csv_safe
from audit.services import security_event_record
from cloudexpress import requestcontext
from tests import factories

pytestmark = pytest.mark.django_db

PAGES = ["/audit/log/", "/audit/events/", "/audit/log/export.csv", "/audit/events/export.csv"]


def _events(count: int, **kwargs: object) -> None:
    for i in range(count):
        security_event_record(
            event_type=kwargs.get("event_type", SecurityEvent.Type.SIGN_IN_FAILED),
            severity=kwargs.get("severity"),
            actor=kwargs.get("actor"),
            detail={"i": i},
            ip="198.51.100.7",
        )


def _client(user: factories.User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("path", PAGES)
def test_staff_and_operator_auditors_may_read_the_trail(
    path: str, staff: factories.User, auditor: factories.User
) -> None:
    for user in (staff, auditor):
        assert _client(user).get(path).status_code == 200


@pytest.mark.parametrize("path", PAGES)
def test_others_are_refused_and_the_refusal_is_an_event(
    path: str, auditor: factories.User
) -> None:
    tenant_admin = factories.UserFactory()
    Membership.objects.create(
        user=tenant_admin,
        organization=factories.OrganizationFactory(),
        role=factories.builtin_role("admin"),  # holds audit_log.view, but in a tenant
    )
    assert _client(auditor).get(path).status_code == 200

    for user in (tenant_admin, factories.UserFactory()):
        response = _client(user).get(path)
        assert response.status_code == 403
        denial = SecurityEvent.objects.filter(
            event_type=SecurityEvent.Type.PERMISSION_DENIED, actor_pk=user.pk
        ).get()
        assert denial.detail["path"] == path
        assert denial.detail["permission"] in {"audit_log.view", "security_events.view"}


def test_anonymous_visitors_are_sent_to_sign_in(db: None) -> None:
    response = Client().get("/audit/log/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_expired_auditor_membership_no_longer_grants_access(auditor: factories.User) -> None:
    assert audit_access_allowed(auditor, "audit_log.view")
    Membership.objects.filter(user=auditor).update(expires_at=timezone.now() - timedelta(hours=1))
    assert not audit_access_allowed(auditor, "audit_log.view")


@pytest.mark.parametrize("path", ["/audit/log/", "/audit/events/"])
def test_list_pages_run_a_constant_number_of_queries(
    path: str, staff_client: Client, auditor: factories.User
) -> None:
    def queries(client: Client) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        return len(captured)

    actor = factories.UserFactory()
    organization = factories.OrganizationFactory()
    context = requestcontext.RequestContext("req-list-0001", "198.51.100.7", "agent", actor.pk)

    def fill(count: int) -> None:
        with requestcontext.bind(context):
            for i in range(count):
                organization.name = f"n{i}"
                organization.save()
                security_event_record(
                    event_type=SecurityEvent.Type.ROLE_GRANTED,
                    target_user=actor,
                    organization=organization,
                )

    # Warm: the role graph is then kept in memory for both measurements.
    for client in (staff_client, _client(auditor)):
        queries(client)
    fill(10)
    small = {
        who: queries(c) for who, c in (("staff", staff_client), ("auditor", _client(auditor)))
    }
    fill(190)
    large = {
        who: queries(c) for who, c in (("staff", staff_client), ("auditor", _client(auditor)))
    }
    assert small == large


def test_filters_select_by_actor_type_severity_dates_and_object(staff_client: Client) -> None:
    alice, bob = factories.UserFactory(), factories.UserFactory()
    # Signing the staff user in (and enrolling their second factor) already
    # recorded events, all of today, by the staff user: the unfiltered and
    # date_from lists include them, the filtered ones must not.
    signing_in = SecurityEvent.objects.count()
    now = timezone.now()
    with time_machine.travel(now - timedelta(days=10), tick=False):
        _events(2, actor=alice, event_type=SecurityEvent.Type.LOCKED_OUT, severity="low")
    _events(3, actor=bob, event_type=SecurityEvent.Type.MFA_FAILED, severity="high")

    def rows(query: str) -> int:
        page = staff_client.get(f"/audit/events/?{query}").content.decode()
        return page.count('href="/audit/events/') - page.count('href="/audit/events/export')

    assert rows("") == 5 + signing_in
    assert rows(f"actor={alice.email.upper()}") == 2
    assert rows(f"actor={bob.public_id}") == 3
    assert rows("event_type=auth.locked_out") == 2
    assert rows("severity=high") == 3
    since = (now - timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    assert rows(f"date_from={since}") == 3 + signing_in
    assert rows(f"date_to={since}") == 2
    # What the browser's datetime-local input sends.
    since_local = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert rows(f"date_from={since_local}") == 3 + signing_in

    organization = factories.OrganizationFactory()
    other = factories.OrganizationFactory()
    organization.name = "Renamed"
    organization.save()
    log = staff_client.get(
        f"/audit/log/?object_type=accounts.organization&object_pk={organization.pk}&action=1"
    ).content.decode()
    assert "Renamed" in log and other.name not in log


def test_invalid_filters_are_shown_beside_their_field(staff_client: Client) -> None:
    page = staff_client.get("/audit/events/?severity=apocalyptic&date_from=yesterday")
    assert page.status_code == 200
    assert page.content.decode().count('class="field-error"') == 2


def test_detail_pages_show_one_row_each(staff_client: Client) -> None:
    organization = factories.OrganizationFactory(name="Acme detail")
    entry = AuditLogEntry.objects.get_for_object(organization).get()
    event = SecurityEvent.objects.create(
        event_type=SecurityEvent.Type.API_KEY_CREATED, detail={"key_prefix": "cx_live_12"}
    )

    page = staff_client.get(f"/audit/log/{entry.seq}/").content.decode()
    assert "Acme detail" in page and entry.row_hash in page
    page = staff_client.get(f"/audit/events/{event.public_id}/").content.decode()
    assert "cx_live_12" in page and "API key created" in page
    assert staff_client.get("/audit/log/999999/").status_code == 404


def test_pages_carry_no_inline_script_or_style(staff_client: Client) -> None:
    _events(2)
    for path in ("/audit/log/", "/audit/events/"):
        page = staff_client.get(path).content.decode()
        assert "<script" not in page and "style=" not in page and "<style" not in page


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        (None, ""),
        (7, "7"),
    ],
)
def test_csv_cells_are_neutralised(value: object, expected: str) -> None:
    assert csv_safe(value) == expected


def test_csv_export_neutralises_formulas_and_is_itself_recorded(staff_client: Client) -> None:
    security_event_record(
        event_type=SecurityEvent.Type.SIGN_IN_FAILED,
        user_agent="=cmd|' /C calc'!A0",
        detail={"email": "@evil"},
    )
    response = staff_client.get("/audit/events/export.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "seq"
    (row,) = [r for r in rows[1:] if r[2] == "auth.sign_in_failed"]
    assert row[9] == "'=cmd|' /C calc'!A0"
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for cell in r)
    assert SecurityEvent.objects.filter(event_type=SecurityEvent.Type.DATA_EXPORTED).exists()


def test_audit_log_export_lists_entries(staff_client: Client) -> None:
    organization = factories.OrganizationFactory(name="-Minus Corp")
    response = staff_client.get("/audit/log/export.csv?object_type=accounts.organization")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["seq", "timestamp", "actor"]
    # The operator organization the reader belongs to has its own entry.
    mine = [r for r in rows[1:] if r[6] == str(organization.pk)]
    assert [r[7] for r in mine] == ["'-Minus Corp"]
