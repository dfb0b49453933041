from __future__ import annotations

from rest_framework import serializers
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cloudexpress.api.exceptions import Conflict


class BoomView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise RuntimeError("planted failure")


class ConflictView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise Conflict("The resource changed since you read it.")


class ThrottledView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise Throttled(wait=17)


class _Input(serializers.Serializer):
    name = serializers.CharField(max_length=10)
    count = serializers.IntegerField(min_value=1)


class ValidateView(APIView):
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        data = _Input(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(data.validated_data)
