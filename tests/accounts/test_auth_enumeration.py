"""Sign-up, password reset and e-mail change answer the same whether or not
an account has the address: status, redirect, the page after it, and the
mail (one, to the typed address, saying nothing about anyone else)."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.http import HttpResponse
from django.test import Client

from accounts.models import User
from tests.accounts.auth_support import sign_in_password, verified_user

pytestmark = pytest.mark.django_db

PASSWORD = "Sign-Up-Pass-77!"


def _page(client: Client, response: HttpResponse, typed: str) -> tuple[int, str, str]:
    """Status, redirect and the page it leads to, with the per-request parts
    (CSRF token, the address the visitor typed) masked."""
    location = response.get("Location", "")
    body = client.get(location).content.decode() if location else response.content.decode()
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "csrf", body)
    return response.status_code, location, body.replace(typed, "<typed>")


def _mails_to(typed: str) -> list[str]:
    sent = [m for m in mail.outbox if typed in m.to]
    assert len(sent) == len(mail.outbox), [m.to for m in mail.outbox]
    return [m.body for m in sent]


def _no_other_person_in(body: str, *others: User) -> None:
    for other in others:
        assert other.email not in body and str(other.public_id) not in body
        if other.full_name:
            assert other.full_name not in body


def _signup(typed: str) -> tuple[Client, HttpResponse]:
    client = Client()
    return client, client.post(
        "/accounts/signup/", {"email": typed, "password1": PASSWORD, "password2": PASSWORD}
    )


def test_sign_up_answers_the_same_for_a_taken_and_a_free_address() -> None:
    existing = verified_user(full_name="Existing Person")
    free = "newcomer@example.test"

    mail.outbox.clear()
    client, response = _signup(existing.email)
    taken_page = _page(client, response, existing.email)
    (taken_mail,) = _mails_to(existing.email)

    mail.outbox.clear()
    client, response = _signup(free)
    free_page = _page(client, response, free)
    (free_mail,) = _mails_to(free)

    assert taken_page == free_page
    assert taken_page[0] == 302
    assert User.objects.filter(email=existing.email).count() == 1
    # The owner of the taken address is told; the visitor sees nothing.
    _no_other_person_in(taken_mail, *User.objects.exclude(email=existing.email))
    assert free_mail and taken_mail


def test_password_reset_answers_the_same_for_a_known_and_an_unknown_address() -> None:
    known = verified_user(full_name="Known Person")
    unknown = "ghost@example.test"
    pages, bodies = [], []
    for typed in (known.email, unknown):
        mail.outbox.clear()
        client = Client()
        response = client.post("/accounts/password/reset/", {"email": typed})
        pages.append(_page(client, response, typed))
        (body,) = _mails_to(typed)
        bodies.append(body)

    assert pages[0] == pages[1] and pages[0][0] == 302
    # The mail to the unknown address says there is no account, to its
    # owner only; it names nobody.
    _no_other_person_in(bodies[1], known)


def test_email_change_answers_the_same_for_a_taken_and_a_free_address() -> None:
    other = verified_user(full_name="Other Person")
    user = verified_user()
    free = "moving@example.test"
    pages = []
    for typed in (other.email, free):
        client = Client()
        assert sign_in_password(client, user.email).status_code == 302
        mail.outbox.clear()
        response = client.post("/accounts/email/", {"action_add": "", "email": typed})
        pages.append(_page(client, response, typed))
        (body,) = _mails_to(typed)
        _no_other_person_in(body, other)

    assert pages[0] == pages[1] and pages[0][0] == 302
    # The taken address never moves to this account.
    assert EmailAddress.objects.get(email=other.email, verified=True).user_id == other.pk
    assert User.objects.get(pk=other.pk).email == other.email
