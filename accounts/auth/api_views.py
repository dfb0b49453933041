"""API endpoints of authentication: tokens, API keys, the password policy."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import apikeys, jwt, mfa, passwords
from accounts.auth.ipallow import SIGN_IN_REFUSED_MESSAGE, sign_in_country_refused
from accounts.auth.throttles import TokenEndpointThrottle
from accounts.models import ApiKey, Organization, User
from cloudexpress.api.exceptions import ServiceError
from cloudexpress.clientip import client_ip

logger = logging.getLogger(__name__)


class TokenObtainInput(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    otp = serializers.CharField(max_length=20, required=False, allow_blank=True)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class _TokenEndpoint(APIView):
    """No authentication of its own, but a 401 still names its challenge."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenEndpointThrottle]

    def get_authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class TokenObtainView(_TokenEndpoint):
    """Exchange e-mail, password and (when required) a TOTP code for tokens."""

    @extend_schema(
        request=TokenObtainInput, responses=TokenPairSerializer, operation_id="token_obtain"
    )
    def post(self, request: Request) -> Response:
        data = TokenObtainInput(data=request.data)
        data.is_valid(raise_exception=True)
        # authenticate() runs axes first: a locked account or address is
        # refused before the password is checked.
        user = authenticate(
            request, email=data.validated_data["email"], password=data.validated_data["password"]
        )
        if getattr(request, "axes_locked_out", False):
            raise ServiceError(
                "Too many failed sign-ins: the account is locked for a while.",
                code="locked_out",
                status_code=status.HTTP_403_FORBIDDEN,
            )
        if user is None or not isinstance(user, User) or user.terminated_at is not None:
            raise exceptions.AuthenticationFailed("The e-mail or password is not correct.")
        country = sign_in_country_refused(user=user, ip=client_ip(request), channel="jwt")
        if country is not None:
            raise ServiceError(
                SIGN_IN_REFUSED_MESSAGE.format(country=country),
                code="country_refused",
                status_code=status.HTTP_403_FORBIDDEN,
            )
        if not EmailAddress.objects.filter(user=user, verified=True).exists():
            raise ServiceError(
                "Verify your e-mail address first.", code="email_unverified", status_code=403
            )
        if passwords.password_is_expired(user):
            raise ServiceError(
                "Your password has expired: change it first.",
                code="password_expired",
                status_code=403,
            )
        checked = mfa.mfa_enabled_for(user) or mfa.mfa_required_for(user)
        if checked:
            self._second_factor(user, data.validated_data.get("otp") or "")
        return Response(jwt.token_pair_issue(user=user, mfa=checked))

    @staticmethod
    def _second_factor(user: User, code: str) -> None:
        if not mfa.mfa_enabled_for(user):
            raise ServiceError(
                "Your account needs a second factor: enrol one in the portal first.",
                code="mfa_enrolment_required",
                status_code=403,
            )
        if not code:
            raise ServiceError(
                "Give the code from your authenticator app.", code="mfa_required", status_code=401
            )
        result, wait = mfa.second_factor_verify(user=user, code=code, channel="jwt")
        if result == mfa.MfaResult.THROTTLED:
            raise exceptions.Throttled(wait=wait)
        if result != mfa.MfaResult.ACCEPTED:
            raise ServiceError("The code is not valid.", code="mfa_invalid", status_code=401)


class TokenRefreshInput(serializers.Serializer):
    refresh = serializers.CharField()


class TokenRefreshView(_TokenEndpoint):
    @extend_schema(
        request=TokenRefreshInput, responses=TokenPairSerializer, operation_id="token_refresh"
    )
    def post(self, request: Request) -> Response:
        data = TokenRefreshInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            pair = jwt.token_refresh(raw=data.validated_data["refresh"])
        except jwt.RefreshRefusedError as exc:
            raise ServiceError(exc.detail, code=exc.code, status_code=401) from exc
        return Response(pair)


class TokenRevokeView(_TokenEndpoint):
    @extend_schema(request=TokenRefreshInput, responses={204: None}, operation_id="token_revoke")
    def post(self, request: Request) -> Response:
        data = TokenRefreshInput(data=request.data)
        data.is_valid(raise_exception=True)
        jwt.token_family_revoke(raw=data.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordPolicyView(APIView):
    """The active password policy and, for the default, its NIST deviation."""

    required_permission = "controls.view"

    @extend_schema(responses=dict[str, Any], operation_id="security_policy_retrieve")
    def get(self, request: Request) -> Response:
        return Response(passwords.policy_describe())


class ApiKeyInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    organization = serializers.SlugField()
    scopes = serializers.ListField(child=serializers.CharField(max_length=80), allow_empty=True)
    expires_in_days = serializers.IntegerField(min_value=1, max_value=366, required=False)


class ApiKeyOutput(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    prefix = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())
    expires_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)
    last_used_ip = serializers.CharField(allow_null=True)


class ApiKeyListCreateView(APIView):
    """The caller's own personal keys; creating one shows its secret once."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=ApiKeyOutput(many=True), operation_id="api_keys_list")
    def get(self, request: Request) -> Response:
        keys = ApiKey.objects.filter(user_id=request.user.pk, revoked_at__isnull=True).order_by(
            "-created_at"
        )
        return Response(ApiKeyOutput(keys, many=True).data)

    @extend_schema(request=ApiKeyInput, responses=ApiKeyOutput, operation_id="api_keys_create")
    def post(self, request: Request) -> Response:
        from django.utils import timezone

        from accounts.auth.ipallow import membership_current

        if isinstance(request.auth, ApiKey):
            raise exceptions.PermissionDenied("An API key cannot create API keys.")
        data = ApiKeyInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = request.user
        assert isinstance(user, User)
        organization = Organization.objects.filter(
            slug=data.validated_data["organization"]
        ).first()
        if (
            organization is None
            or membership_current(user=user, organization_id=organization.pk) is None
        ):
            raise exceptions.PermissionDenied("You are not a current member of this organization.")
        days = data.validated_data.get("expires_in_days")
        try:
            issued = apikeys.api_key_create(
                user=user,
                organization=organization,
                name=data.validated_data["name"],
                scopes=data.validated_data["scopes"],
                created_by=user,
                expires_at=timezone.now() + timedelta(days=days) if days else None,
            )
        except apikeys.ApiKeyError as exc:
            raise ServiceError(str(exc), code="invalid") from exc
        body = dict(ApiKeyOutput(issued.key).data)
        body["key"] = issued.raw
        return Response(body, status=status.HTTP_201_CREATED)


class ApiKeyRotateInput(serializers.Serializer):
    overlap_minutes = serializers.IntegerField(min_value=0, max_value=72 * 60)


class ApiKeyRotateView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=ApiKeyRotateInput, responses=ApiKeyOutput, operation_id="api_keys_rotate"
    )
    def post(self, request: Request, key_id: str) -> Response:
        if isinstance(request.auth, ApiKey):
            raise exceptions.PermissionDenied("An API key cannot rotate API keys.")
        key = ApiKey.objects.filter(public_id=key_id, user_id=request.user.pk).first()
        if key is None:
            raise exceptions.NotFound()
        data = ApiKeyRotateInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = request.user
        assert isinstance(user, User)
        try:
            issued = apikeys.api_key_rotate(
                key=key,
                actor=user,
                overlap=timedelta(minutes=data.validated_data["overlap_minutes"]),
            )
        except apikeys.ApiKeyError as exc:
            raise ServiceError(str(exc), code="conflict", status_code=409) from exc
        body = dict(ApiKeyOutput(issued.key).data)
        body["key"] = issued.raw
        return Response(body, status=status.HTTP_201_CREATED)


class ServiceApiKeyCreateView(APIView):
    """An Owner or Admin creates a key for a service of the organization."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=ApiKeyInput, responses=ApiKeyOutput, operation_id="service_keys_create")
    def post(self, request: Request) -> Response:
        from django.utils import timezone

        if isinstance(request.auth, ApiKey):
            raise exceptions.PermissionDenied("An API key cannot create API keys.")
        data = ApiKeyInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = request.user
        assert isinstance(user, User)
        organization = Organization.objects.filter(
            slug=data.validated_data["organization"]
        ).first()
        if organization is None:
            raise exceptions.PermissionDenied("You are not a current member of this organization.")
        days = data.validated_data.get("expires_in_days")
        try:
            issued = apikeys.service_api_key_create(
                admin=user,
                organization=organization,
                name=data.validated_data["name"],
                scopes=data.validated_data["scopes"],
                expires_at=timezone.now() + timedelta(days=days) if days else None,
            )
        except apikeys.ApiKeyError as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        body = dict(ApiKeyOutput(issued.key).data)
        body["key"] = issued.raw
        return Response(body, status=status.HTTP_201_CREATED)
