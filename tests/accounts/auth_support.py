"""Helpers shared by the authentication tests (not a test module)."""

from __future__ import annotations

import re

import pyotp
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.auth import mfa
from accounts.models import Membership, Organization, TOTPDevice, User
from tests import factories
from tests.factories import DEFAULT_PASSWORD


def verified_user(email: str | None = None, **extra: object) -> User:
    user = factories.UserFactory(**({"email": email} if email else {}), **extra)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def member(
    user: User, kind: str = "member", organization: Organization | None = None
) -> Membership:
    return factories.MembershipFactory(
        user=user,
        organization=organization or factories.OrganizationFactory(),
        role=factories.builtin_role(kind),
    )


def enrolled_device(user: User) -> tuple[TOTPDevice, pyotp.TOTP]:
    device = mfa.totp_device_start(user=user)
    TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True, confirmed_at=timezone.now())
    device.refresh_from_db()
    return device, pyotp.TOTP(device.secret)


def sign_in_password(client: Client, email: str, password: str = DEFAULT_PASSWORD, **extra):
    return client.post("/accounts/login/", {"login": email, "password": password}, **extra)


def link_in_last_mail(pattern: str = r"https?://[^\s]+") -> str:
    assert mail.outbox, "no e-mail was sent"
    found = re.findall(pattern, mail.outbox[-1].body)
    assert found, mail.outbox[-1].body
    return found[0]


def signed_in_user_id(client: Client) -> int | None:
    from django.contrib.auth import SESSION_KEY

    value = client.session.get(SESSION_KEY)
    return int(value) if value is not None else None


def sign_in_with_mfa(client: Client, user: User) -> None:
    """Sign ``user`` in through the password and second-factor steps."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device, _ = enrolled_device(user)
    response = sign_in_password(client, user.email)
    assert response["Location"] == "/accounts/2fa/", response
    assert (
        client.post("/accounts/2fa/", {"code": pyotp.TOTP(device.secret).now()}).status_code == 302
    )
