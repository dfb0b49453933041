"""Containment: a critical brute-force alert locks the account, ends the
attacker's session, raises the credentials version and blocks the address;
an admin can reverse each step."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User, UserSession
from audit.detection.containment import containment_reverse
from audit.models import Alert, BlockedAddress, ContainmentAction, SecurityEvent
from cloudexpress.api.exceptions import ServiceError
from tests import factories
from tests.audit.detection_helpers import record, run

pytestmark = pytest.mark.django_db

T = SecurityEvent.Type
ATTACKER = "198.51.100.66"


def _attack(victim: User) -> None:
    now = timezone.now()
    for index in range(10):
        record(T.SIGN_IN_FAILED, now, ip=ATTACKER, target_user=victim, detail={"attempt": index})
    record(T.SIGN_IN_SUCCEEDED, now, ip=ATTACKER, actor=victim)


def test_brute_force_alert_locks_account_and_attackers_session_fails() -> None:
    victim = factories.UserFactory()
    attacker = Client(REMOTE_ADDR=ATTACKER)
    attacker.force_login(victim)
    elsewhere = Client(REMOTE_ADDR="192.0.2.50")
    elsewhere.cookies = attacker.cookies
    # The stolen session works before detection runs.
    assert attacker.get("/api/me").status_code == 200
    assert elsewhere.get("/api/me").status_code == 200
    assert UserSession.objects.filter(user=victim).count() == 1
    version = victim.credentials_version

    _attack(victim)
    run()

    alert = Alert.objects.get(rule="brute_force_account")
    assert alert.severity == "critical" and alert.contained_at is not None
    victim.refresh_from_db()
    assert victim.is_active is False
    assert victim.credentials_version == version + 1
    assert not UserSession.objects.filter(user=victim).exists()
    assert BlockedAddress.objects.filter(network=f"{ATTACKER}/32", lifted_at=None).count() == 1

    # The attacker's next request fails: blocked by address, and the same
    # cookie from another address is no longer signed in.
    blocked = attacker.get("/api/me")
    assert blocked.status_code == 403 and blocked.json()["code"] == "address_blocked"
    assert elsewhere.get("/api/me").status_code == 401

    # Each step is audited as a security event.
    kinds = set(ContainmentAction.objects.values_list("kind", flat=True))
    assert kinds == {"lock_account", "revoke_sessions", "block_ip"}
    assert SecurityEvent.objects.filter(event_type=T.LOCKED_OUT, target_user=victim).count() == 1
    assert SecurityEvent.objects.filter(event_type=T.SESSION_REVOKED, target_user=victim).exists()
    assert SecurityEvent.objects.filter(event_type="containment.ip_blocked", ip=ATTACKER).exists()
    # Both alerts (by address and by account) were contained, the account once.
    assert Alert.objects.filter(contained_at__isnull=False).count() == 2
    assert ContainmentAction.objects.filter(kind="lock_account").count() == 1


def test_admin_reverses_containment_and_others_may_not() -> None:
    victim = factories.UserFactory()
    _attack(victim)
    run()
    member = factories.UserFactory()
    staff_only = factories.UserFactory(is_staff=True, is_superuser=True)
    admin = factories.operator_member("admin")
    lock = ContainmentAction.objects.get(kind="lock_account")
    block = ContainmentAction.objects.get(kind="block_ip")
    assert Client(REMOTE_ADDR=ATTACKER).get("/healthz").status_code == 200  # probes exempt
    assert Client(REMOTE_ADDR=ATTACKER).get("/").status_code == 403

    # Neither a plain member nor the bare staff flag may undo containment.
    for refused in (member, staff_only):
        with pytest.raises(ServiceError):
            containment_reverse(action=lock, by=refused)
    containment_reverse(action=lock, by=admin)
    containment_reverse(action=block, by=admin)

    victim.refresh_from_db()
    assert victim.is_active is True
    assert Client(REMOTE_ADDR=ATTACKER).get("/").status_code == 200
    assert SecurityEvent.objects.filter(event_type=T.UNLOCKED, target_user=victim).count() == 1
    assert SecurityEvent.objects.filter(event_type="containment.reversed").count() == 2
    with pytest.raises(ServiceError):
        containment_reverse(action=lock, by=admin)


def test_reverse_through_the_api_needs_an_admin(api_client) -> None:
    victim = factories.UserFactory()
    _attack(victim)
    run()
    lock = ContainmentAction.objects.get(kind="lock_account")
    url = f"/api/compliance/security/containment/{lock.pk}/reverse"
    api_client.force_authenticate(factories.UserFactory())
    assert api_client.post(url).status_code == 403
    api_client.force_authenticate(factories.operator_member("admin", is_staff=True))
    response = api_client.post(url)
    assert response.status_code == 200 and response.json()["state"] == "reversed"


def test_old_activity_and_loopback_are_not_contained() -> None:
    victim = factories.UserFactory()
    old = timezone.now() - timezone.timedelta(days=3)
    for _ in range(10):
        record(T.SIGN_IN_FAILED, old, ip=ATTACKER, target_user=victim)
    record(T.SIGN_IN_SUCCEEDED, old, ip=ATTACKER, actor=victim)
    lab = factories.UserFactory()
    now = timezone.now()
    for _ in range(10):
        record(T.SIGN_IN_FAILED, now, ip="127.0.0.1", target_user=lab)
    record(T.SIGN_IN_SUCCEEDED, now, ip="127.0.0.1", actor=lab)
    run()
    assert Alert.objects.filter(severity="critical").count() == 4
    victim.refresh_from_db()
    assert victim.is_active is True
    assert not BlockedAddress.objects.exists()
    assert not ContainmentAction.objects.filter(kind="block_ip").exists()


def test_ingested_events_block_the_address_but_never_lock_an_account() -> None:
    import json

    from audit.detection.ingest import events_ingest, parse_jsonl

    victim = factories.UserFactory()
    now = timezone.now().isoformat()
    lines = [
        json.dumps(
            {
                "type": "auth.sign_in_failed",
                "occurred_at": now,
                "ip": ATTACKER,
                "target_user": str(victim.public_id),
                "detail": {"n": n},
            }
        )
        for n in range(10)
    ] + [
        json.dumps(
            {
                "type": "auth.sign_in_succeeded",
                "occurred_at": now,
                "ip": ATTACKER,
                "actor": str(victim.public_id),
            }
        )
    ]
    events_ingest(parse_jsonl(lines), source="sensor")
    assert Alert.objects.filter(rule="brute_force_account", severity="critical").count() == 1
    victim.refresh_from_db()
    assert victim.is_active is True
    assert not ContainmentAction.objects.filter(kind="lock_account").exists()
    assert BlockedAddress.objects.filter(network=f"{ATTACKER}/32").count() == 1


def test_containment_revokes_the_accounts_api_keys_for_good() -> None:
    from accounts.auth import apikeys
    from accounts.models import ApiKey

    organization = factories.OrganizationFactory()
    victim = factories.MembershipFactory(organization=organization).user
    issued = apikeys.api_key_create(
        user=victim, organization=organization, name="laptop", scopes=[], created_by=victim
    )
    other = factories.MembershipFactory(organization=organization).user
    bystander = apikeys.api_key_create(
        user=other, organization=organization, name="other", scopes=[], created_by=other
    )

    def status(raw: str) -> int:
        client = Client(REMOTE_ADDR="192.0.2.70")
        return client.get("/api/me", HTTP_AUTHORIZATION=f"ApiKey {raw}").status_code

    # The key works before the attack is detected.
    assert status(issued.raw) == 200
    _attack(victim)
    run()

    revoke = ContainmentAction.objects.get(kind="revoke_sessions")
    assert revoke.detail["api_keys"] == [issued.key.pk]
    assert ApiKey.objects.get(pk=issued.key.pk).revoked_at is not None
    assert status(issued.raw) == 401
    # Reversing the lock gives the account back, not its revoked key.
    containment_reverse(
        action=ContainmentAction.objects.get(kind="lock_account"),
        by=factories.operator_member("admin"),
    )
    victim.refresh_from_db()
    assert victim.is_active is True
    assert status(issued.raw) == 401
    # Another user's key is untouched.
    assert status(bystander.raw) == 200
