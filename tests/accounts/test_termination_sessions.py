"""Termination: the session that worked is refused on the very next request;
revokers run; invitations the user sent are cancelled; who and why are kept."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts import termination
from accounts.models import Invitation, Membership, User, UserSession
from accounts.services import invitation_send, membership_remove, user_terminate
from audit.models import SecurityEvent
from cloudexpress.api.exceptions import ServiceError
from tests.accounts.access_helpers import builtin, fresh, member, organization

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_admin():
    operator = organization(is_operator=True)
    member(operator, "owner")
    return member(operator, "admin").user


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_terminated_user_session_cookie_is_refused_on_the_next_request(operator_admin) -> None:
    org = organization()
    member(org, "owner")
    leaver = member(org, "admin").user
    client = signed_in(leaver)
    cookie = client.cookies["sessionid"].value

    assert client.get("/api/me").status_code == 200
    assert UserSession.objects.filter(user=leaver).count() == 1

    user_terminate(user=leaver, by=operator_admin, reason="left the company")

    replay = Client()
    replay.cookies["sessionid"] = cookie
    response = replay.get("/api/me")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert UserSession.objects.filter(user=leaver).count() == 0


def test_session_kept_elsewhere_is_refused_by_the_credentials_check() -> None:
    """A session row that survived (restored, or held by another store) is
    still refused: the user is terminated and the version moved on."""
    org = organization()
    user = member(org, "owner").user
    client = signed_in(user)
    assert client.get("/api/me").status_code == 200

    User.objects.filter(pk=user.pk).update(credentials_version=user.credentials_version + 1)
    response = client.get("/api/me")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    # The session was flushed: the next request is anonymous too.
    assert client.get("/api/me").status_code == 401


def test_terminated_page_session_is_sent_to_sign_in() -> None:
    org = organization()
    user = member(org, "owner").user
    client = signed_in(user)
    assert client.get(f"/orgs/{org.slug}/members").status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = client.get(f"/orgs/{org.slug}/members")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_termination_records_who_and_why_and_keeps_the_data(operator_admin) -> None:
    org = organization()
    member(org, "owner")
    leaver_membership = member(org, "admin")
    leaver = leaver_membership.user

    user_terminate(user=leaver, by=operator_admin, reason="contract ended")

    leaver = fresh(leaver)
    assert leaver.terminated_at is not None
    assert leaver.terminated_reason == "contract ended"
    assert not leaver.is_active
    assert leaver.credentials_version == 2
    leaver_membership.refresh_from_db()
    assert leaver_membership.status == Membership.Status.REVOKED
    assert leaver_membership.revoked_by == operator_admin
    assert leaver_membership.revoked_reason == "contract ended"
    event = SecurityEvent.objects.get(event_type="user.terminated", target_user=leaver)
    assert event.actor_id == operator_admin.pk
    assert event.detail["reason"] == "contract ended"
    assert event.detail["memberships"] == 1


def test_termination_cancels_pending_invitations_they_sent(operator_admin) -> None:
    org = organization()
    member(org, "owner")
    inviter = member(org, "admin").user
    invitation = invitation_send(
        organization=org, email="new@example.test", role=builtin("member"), invited_by=inviter
    )
    assert invitation.status == Invitation.Status.PENDING

    user_terminate(user=inviter, by=operator_admin, reason="left")

    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.REVOKED
    assert invitation.token_hash is None


def test_registered_revokers_run_with_the_user(operator_admin) -> None:
    org = organization()
    member(org, "owner")
    leaver = member(org).user
    calls = []

    def api_keys_revoke(*, user, organization, by, reason) -> int:
        calls.append((user.pk, organization, by.pk, reason))
        return 2

    termination.register_revoker(api_keys_revoke)
    try:
        user_terminate(user=leaver, by=operator_admin, reason="left")
    finally:
        termination.unregister_revoker(api_keys_revoke)
    assert calls == [(leaver.pk, None, operator_admin.pk, "left")]
    event = SecurityEvent.objects.get(event_type="user.terminated", target_user=leaver)
    # Each revoker's count is kept under its name: the registered one and the
    # authentication revoker (which found no API keys to revoke).
    registered = f"{api_keys_revoke.__module__}.{api_keys_revoke.__qualname__}"
    assert event.detail["revoked"] == {
        "accounts.auth.revocation.terminated_user_revoke": 0,
        registered: 2,
    }


def test_a_failing_revoker_terminates_nothing(operator_admin) -> None:
    org = organization()
    member(org, "owner")
    leaver = member(org).user

    def broken(*, user, organization, by, reason) -> int:
        raise RuntimeError("key store unreachable")

    termination.register_revoker(broken)
    try:
        with pytest.raises(RuntimeError):
            user_terminate(user=leaver, by=operator_admin, reason="left")
    finally:
        termination.unregister_revoker(broken)
    assert fresh(leaver).terminated_at is None


def test_termination_needs_a_reason_and_the_permission(operator_admin) -> None:
    org = organization()
    plain = member(org).user
    other = member(org).user
    with pytest.raises(ServiceError) as no_reason:
        user_terminate(user=other, by=operator_admin, reason=" ")
    assert no_reason.value.get_codes() == "reason_required"
    with pytest.raises(ServiceError) as denied:
        user_terminate(user=other, by=plain, reason="dislike")
    assert denied.value.get_codes() == "permission_denied"


def test_removal_from_the_last_organization_ends_sessions() -> None:
    org = organization()
    owner = member(org, "owner").user
    leaver = member(org).user
    client = signed_in(leaver)
    assert client.get("/api/me").status_code == 200

    membership_remove(
        membership=Membership.objects.get(user=leaver, organization=org), by=owner, reason="moved"
    )
    assert client.get("/api/me").status_code == 401


def test_removal_keeps_sessions_while_other_memberships_remain() -> None:
    org, other = organization(), organization()
    owner = member(org, "owner").user
    leaver = member(org).user
    member(other, user=leaver)
    client = signed_in(leaver)

    membership_remove(
        membership=Membership.objects.get(user=leaver, organization=org), by=owner, reason="moved"
    )
    assert client.get("/api/me").status_code == 200
    assert client.get(f"/orgs/{org.slug}/members").status_code == 404
    assert client.get(f"/orgs/{other.slug}/members").status_code == 200
