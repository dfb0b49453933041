"""URLs for the audit tests only: an API write authenticated the way the JWT
and API-key classes will authenticate, and a sign-in failure as the sign-in
code records it."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Organization, User
from audit.models import SecurityEvent
from audit.services import security_event_record
from cloudexpress import requestcontext


class _KeyAuthentication(BaseAuthentication):
    """``Authorization: TestKey <public id>``: a stand-in for JWT and API keys."""

    sets_actor = True

    def authenticate(self, request: Request) -> tuple[User, None] | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("TestKey "):
            return None
        user = User.objects.get(public_id=header.split(" ", 1)[1])
        if self.sets_actor:
            requestcontext.set_actor(user.pk)
        return user, None

    def authenticate_header(self, request: Request) -> str:
        return "TestKey"


class _ForgetfulKeyAuthentication(_KeyAuthentication):
    sets_actor = False


class _CreateOrganization(APIView):
    authentication_classes = [_KeyAuthentication]
    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        organization = Organization.objects.create(
            name=request.data["name"], slug=request.data["slug"]
        )
        return Response({"id": str(organization.public_id)}, status=201)


class _CreateOrganizationForgetful(_CreateOrganization):
    authentication_classes = [_ForgetfulKeyAuthentication]


def _sign_in_failed(request: HttpRequest) -> JsonResponse:
    event = security_event_record(
        event_type=SecurityEvent.Type.SIGN_IN_FAILED, detail={"reason": "bad_password"}
    )
    return JsonResponse({"event": str(event.public_id)}, status=401)


urlpatterns = [
    path("api/organizations", _CreateOrganization.as_view()),
    path("api/organizations-forgetful", _CreateOrganizationForgetful.as_view()),
    path("sign-in-failed", _sign_in_failed),
]
