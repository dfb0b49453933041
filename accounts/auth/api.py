"""API authentication: JWT and API keys, each answering 401 with a challenge.

Both classes check, on every request, what a token cannot know by itself:
that the user is still active and not terminated, that the credentials
version matches, that the membership in the organization acted in is
current, and that the client address is inside that organization's
allowlist. Each sets the audit actor.
"""

from __future__ import annotations

import logging
from typing import Any

from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication as SimpleJWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken

from accounts.auth import apikeys, ipallow
from accounts.auth.jwt import FAMILY_CLAIM, access_claims_valid
from accounts.models import TokenFamily, User
from audit.models import SecurityEvent
from audit.services import security_event_record
from cloudexpress import requestcontext
from cloudexpress.clientip import client_ip

logger = logging.getLogger(__name__)


def organization_access_check(
    request: Request, user: User, organization: Any, channel: str, *, is_member: bool | None = None
) -> None:
    """Refuse when the user is not a current member or the address is outside.

    ``is_member`` lets a caller that already read the membership (the API
    key lookup) skip the query; ``cx_membership`` is then None.
    """
    membership = None
    if is_member is None:
        membership = ipallow.membership_current(user=user, organization_id=organization.pk)
        is_member = membership is not None
    if not is_member:
        security_event_record(
            event_type=SecurityEvent.Type.PERMISSION_DENIED,
            target_user=user,
            organization=organization,
            detail={"channel": channel, "reason": "no_current_membership"},
        )
        raise exceptions.PermissionDenied("You are not a current member of this organization.")
    if not ipallow.ip_access_check(
        organization=organization, ip=client_ip(request), user=user, channel=channel
    ):
        raise exceptions.PermissionDenied("Your address may not reach this organization.")
    request.cx_organization = organization  # type: ignore[attr-defined]
    request.cx_membership = membership  # type: ignore[attr-defined]


def _named_organization_check(request: Request, user: User, channel: str) -> None:
    organization = ipallow.organization_named(request)
    if organization is None:
        if request.headers.get(ipallow.ORGANIZATION_HEADER):
            raise exceptions.PermissionDenied("You are not a current member of this organization.")
        return
    organization_access_check(request, user, organization, channel)


class JWTAuthentication(SimpleJWTAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:  # type: ignore[override]
        result = super().authenticate(request)
        if result is None:
            return None
        user, token = result
        requestcontext.set_actor(user.pk)
        _named_organization_check(request, user, "jwt")
        return user, token

    def get_user(self, validated_token: Any) -> User:  # type: ignore[override]
        # One query for the user and the family's revocation together.
        family = (
            TokenFamily.objects.select_related("user")
            .filter(
                public_id=validated_token.get(FAMILY_CLAIM),
                user__public_id=validated_token.get("sub"),
            )
            .first()
        )
        if family is None or family.revoked_at is not None:
            raise InvalidToken("The token was revoked.")
        user = family.user
        if not access_claims_valid(user, validated_token):
            raise InvalidToken("The token was revoked.")
        return user


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: ApiKey cx_<prefix>_<secret>``."""

    keyword = "ApiKey"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = request.headers.get("Authorization", "")
        scheme, _, raw = header.partition(" ")
        if scheme != self.keyword:
            return None
        key = apikeys.api_key_lookup(raw.strip())
        if key is None or not key.is_usable():
            raise exceptions.AuthenticationFailed("The API key is not valid.")
        user = key.user
        if not user.is_active or user.terminated_at is not None:
            raise exceptions.AuthenticationFailed("The API key is not valid.")
        requestcontext.set_actor(user.pk)
        named = ipallow.organization_named(request)
        if named is not None and named.pk != key.organization_id:
            raise exceptions.PermissionDenied("This key belongs to another organization.")
        organization_access_check(
            request,
            user,
            key.organization,
            "api_key",
            is_member=apikeys.api_key_membership_current(key),
        )
        apikeys.api_key_touch(key=key, ip=client_ip(request))
        return user, key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class SessionAuthentication(authentication.SessionAuthentication):
    """The project's session authentication plus the organization checks.

    A session that has passed the password but not the second factor is
    anonymous to Django (allauth holds the login until its stages finish),
    so it never gets here and the API answers 401.
    """

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user, auth = result
        requestcontext.set_actor(user.pk)
        _named_organization_check(request, user, "session")
        return user, auth

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class ApiKeyScopePermission(permissions.BasePermission):
    """An API key reaches a view only if its scopes hold the view's
    ``required_permission``; sessions and JWTs are not limited by scopes.

    TODO(roles): views without ``required_permission`` are open to every
    key of a current member; once every view declares one, refuse keys on
    views that do not.
    """

    message = "This API key's scopes do not allow this request."

    def has_permission(self, request: Request, view: Any) -> bool:
        from accounts.models import ApiKey

        if not isinstance(request.auth, ApiKey):
            return True
        required = getattr(view, "required_permission", None)
        if required is None:
            return True
        allowed = apikeys.api_key_allows(request.auth, required)
        if not allowed:
            security_event_record(
                event_type=SecurityEvent.Type.PERMISSION_DENIED,
                target_user=request.user,
                organization=request.auth.organization_id,
                detail={"channel": "api_key", "reason": "scope", "required": required},
            )
        return allowed

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return True
