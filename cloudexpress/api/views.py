"""API plumbing: the catch-all 404 and a small authenticated probe."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from cloudexpress.api.exceptions import json_error


def api_not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    return json_error(request, 404, "No API endpoint at this path.")


class MeSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    full_name = serializers.CharField()


class MeView(APIView):
    """The authenticated caller."""

    # Who a key acts as is what any of its scopes may learn.
    api_key_any_scope = True

    @extend_schema(responses=MeSerializer, operation_id="me_retrieve")
    def get(self, request: Request) -> Response:
        user = request.user
        assert isinstance(user, User)
        return Response(
            {"id": str(user.public_id), "email": user.email, "full_name": user.full_name}
        )
