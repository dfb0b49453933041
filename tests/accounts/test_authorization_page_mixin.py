"""The page mixin asks the same service as the decorator and the API."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.test import RequestFactory
from django.views import View

from accounts.authorization import PermissionRequiredMixin
from tests.accounts.access_helpers import member, organization

pytestmark = pytest.mark.django_db


class InviteOnlyPage(PermissionRequiredMixin, View):
    permission_code = "members.invite"

    def get(self, request, slug):
        return HttpResponse(self.organization.name)


def call(user, slug):
    request = RequestFactory().get(f"/orgs/{slug}/x")
    request.user = user
    return InviteOnlyPage.as_view()(request, slug=slug)


def test_mixin_allows_the_holder_and_refuses_others() -> None:
    org = organization(name="Acme")
    admin = member(org, "admin").user
    plain = member(org).user
    outsider = member(organization()).user
    assert call(admin, org.slug).content == b"Acme"
    with pytest.raises(PermissionDenied):
        call(plain, org.slug)
    with pytest.raises(Http404):
        call(outsider, org.slug)
    assert call(AnonymousUser(), org.slug).status_code == 302
