"""Ingest of JSON lines through the command and the API; the chain holds."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.models import Permission, Role
from audit import chain, verification
from audit.detection.ingest import IngestError, parse_authlog, parse_jsonl
from audit.models import Alert, ChainHead, IngestedLine, SecurityEvent
from tests import factories

pytestmark = pytest.mark.django_db

URL = "/api/compliance/security/ingest"


def _lines(count: int, ip: str = "198.51.100.80") -> list[str]:
    return [
        json.dumps(
            {
                "type": "auth.sign_in_failed",
                "occurred_at": f"2026-11-20T10:00:{index:02d}Z",
                "ip": ip,
                "detail": {"username": "someone"},
            }
        )
        for index in range(count)
    ]


def _chain_is_intact() -> bool:
    """Links and hashes by hand, and the full check ``audit_verify`` makes
    (personal digests, key copies, the head row)."""
    previous = chain.GENESIS
    for event in SecurityEvent.objects.order_by("seq"):
        if event.prev_hash != previous or chain.compute_hash(previous, event) != event.row_hash:
            return False
        previous = event.row_hash
    head = ChainHead.objects.get(chain="audit.securityevent")
    if (head.seq, head.row_hash) != (SecurityEvent.objects.count(), previous):
        return False
    return verification.verify_chain(SecurityEvent).ok


def test_jsonl_command_imports_once_and_runs_the_rules(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(_lines(12)) + "\n")
    out = StringIO()
    call_command("ingest_events", str(path), "--format", "jsonl", stdout=out)
    result = json.loads(out.getvalue())
    assert result["added"] == 12
    assert Alert.objects.filter(rule="brute_force_ip", source_ip="198.51.100.80").count() == 1
    assert _chain_is_intact()
    # Identical lines are separate attempts, and a second import adds nothing.
    out = StringIO()
    call_command("ingest_events", str(path), "--format", "jsonl", stdout=out)
    assert json.loads(out.getvalue())["added"] == 0
    assert SecurityEvent.objects.count() == 12 and IngestedLine.objects.count() == 12


def test_ingested_rows_continue_the_chain_of_recorded_events() -> None:
    from audit.detection.ingest import events_ingest
    from audit.services import security_event_record

    actor, target = factories.UserFactory(), factories.UserFactory()
    named = json.dumps(
        {
            "type": "auth.sign_in_succeeded",
            "ip": "2001:db8::7",
            "user_agent": "curl/8",
            "actor": str(actor.public_id),
            "target_user": str(target.public_id),
            "detail": {"geo": {"country": "PT", "lat": 38.7, "lon": -9.1}, "b": [1, "x"]},
        }
    )
    security_event_record(event_type="auth.sign_in_succeeded")
    events_ingest(parse_jsonl([*_lines(3), named]), source="test")
    security_event_record(event_type="auth.signed_out")
    assert list(SecurityEvent.objects.order_by("seq").values_list("seq", flat=True)) == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]
    ingested = SecurityEvent.objects.get(seq=5)
    assert (ingested.actor_pk, ingested.target_user_pk) == (actor.pk, target.pk)
    assert ingested.personal_salt and len(ingested.personal_digest) == 64
    assert _chain_is_intact()
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert "OK audit.securityevent: 6 rows" in out.getvalue()


def test_jsonl_parsing_rules() -> None:
    user = factories.UserFactory()
    [parsed] = parse_jsonl(
        [
            json.dumps(
                {"type": "custom.thing", "actor": str(user.public_id), "ip": "::ffff:192.0.2.1"}
            )
        ]
    )
    assert parsed.event_type == "external"
    assert parsed.detail["original_type"] == "custom.thing"
    assert parsed.ip == "192.0.2.1"
    for bad, message in (
        ("not json", "JSON"),
        ("[1]", "object"),
        ('{"type": "x", "ip": "nope"}', "ip"),
        ('{"type": "x", "occurred_at": "yesterday"}', "ISO"),
        ('{"occurred_at": "2026-01-01T00:00:00Z"}', "type"),
    ):
        with pytest.raises(IngestError, match=message):
            list(parse_jsonl([bad]))


def test_authlog_year_rolls_over_and_time_zone_applies() -> None:
    lines = [
        "Dec 31 23:59:59 host sshd[1]: Invalid user a from 198.51.100.1 port 1",
        "Jan  1 00:00:05 host sshd[2]: Invalid user b from 198.51.100.1 port 2",
    ]
    first, second = parse_authlog(lines, year=2025, tz="Europe/Lisbon")
    assert first.occurred_at.year == 2025 and second.occurred_at.year == 2026
    berlin = next(parse_authlog(lines[:1], year=2025, tz="Europe/Berlin"))
    assert (first.occurred_at - berlin.occurred_at).total_seconds() == 3600


def test_ingest_api_needs_permission_and_is_all_or_nothing(api_client) -> None:
    # No built-in role holds ingest: a custom operator role granted on purpose.
    collector = factories.operator_member("member")
    membership = collector.memberships.get()
    role = Role.objects.create(organization=membership.organization, name="Collector")
    role.permissions.set(Permission.objects.filter(code="security_events.ingest"))
    membership.role = role
    membership.save(update_fields=["role"])
    api_client.force_authenticate(collector)
    body = {"format": "jsonl", "source": "edge", "lines": _lines(3)}
    response = api_client.post(URL, body, format="json")
    assert response.status_code == 200 and response.json()["added"] == 3
    assert api_client.post(URL, body, format="json").json()["added"] == 0

    bad = {"format": "jsonl", "source": "edge", "lines": _lines(2, ip="198.51.100.81") + ["{"]}
    refused = api_client.post(URL, bad, format="json")
    assert refused.status_code == 400 and "line 3" in refused.json()["fields"]["lines"][0]
    assert not SecurityEvent.objects.filter(ip="198.51.100.81").exists()

    api_client.force_authenticate(factories.UserFactory())
    assert api_client.post(URL, body, format="json").status_code == 403
    # Nor does the staff flag alone.
    api_client.force_authenticate(factories.UserFactory(is_staff=True, is_superuser=True))
    assert api_client.post(URL, body, format="json").status_code == 403

    authlog = {
        "format": "authlog",
        "source": "bastion",
        "year": 2026,
        "lines": ["Mar  1 10:00:00 bastion useradd[9]: new user: name=deploy, UID=1001"],
    }
    api_client.force_authenticate(collector)
    assert api_client.post(URL, authlog, format="json").json()["added"] == 1
    assert SecurityEvent.objects.filter(event_type="host.account_provisioned").count() == 1
