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
        # Checked here, not only in a permission class: a view that sets its
        # own permission_classes would otherwise never ask about scopes.
        api_key_view_check(request, key, (request.parser_context or {}).get("view"))
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


# What ``view_required_permission`` answers for a view whose
# ``api_key_any_scope`` is true: any current key of its organization may use
# it, whatever its scopes. Only for what a key may always learn (who it acts
# as, ``/api/me``).
API_KEY_ANY_SCOPE = "api_key.any_scope"
_CHECKED_ATTRIBUTE = "_cx_api_key_checked"


def view_required_permission(view: Any) -> str | None:
    """The permission code a view declares for API keys, or None.

    A view declares it as ``required_permission``, or through a permission
    class that carries ``permission_code`` (``accounts.authorization.
    HasPermission``), which may depend on the method (``get_permissions``).
    A class may name several codes, any of which lets a key in, as
    ``permission_codes_any`` (a register that managing implies reading).
    """
    if view is None:
        return None
    if getattr(view, "api_key_any_scope", False):
        return API_KEY_ANY_SCOPE
    declared = getattr(view, "required_permission", None)
    if declared:
        return str(declared)
    for instance in view.get_permissions():
        code = getattr(instance, "permission_code", None)
        if code:
            return str(code)
    return None


def _view_alternative_permissions(view: Any) -> tuple[str, ...]:
    codes: list[str] = []
    for instance in view.get_permissions():
        codes.extend(getattr(instance, "permission_codes_any", ()))
    return tuple(codes)


def _scope_refused(request: Request, key: Any, reason: str, required: str | None) -> None:
    security_event_record(
        event_type=SecurityEvent.Type.PERMISSION_DENIED,
        target_user=key.user_id,
        organization=key.organization_id,
        detail={"channel": "api_key", "reason": reason, "required": required or ""},
    )


def api_key_view_check(request: Request, key: Any, view: Any) -> None:
    """Refuse a key on a view unless the view declares a permission that the
    key's scopes AND its user's current role both hold.

    Deny by default: a view that declares nothing is closed to keys (a scoped
    key must not reach what its scopes cannot name), unless it declares
    ``API_KEY_ANY_SCOPE``. A view in another organization (its URL's slug)
    than the key's is refused too: a key acts in one organization only.
    """
    if view is None:
        return
    setattr(request, _CHECKED_ATTRIBUTE, True)
    slug = (getattr(view, "kwargs", None) or {}).get("slug")
    if slug and hasattr(view, "get_organization") and slug != key.organization.slug:
        _scope_refused(request, key, "other_organization", None)
        raise exceptions.PermissionDenied("This key belongs to another organization.")
    required = view_required_permission(view)
    if required == API_KEY_ANY_SCOPE:
        return
    if required is None:
        _scope_refused(request, key, "undeclared_view", None)
        raise exceptions.PermissionDenied("This endpoint does not accept API keys.")
    if not apikeys.api_key_allows(key, required) and not any(
        apikeys.api_key_allows(key, code) for code in _view_alternative_permissions(view)
    ):
        _scope_refused(request, key, "scope", required)
        raise exceptions.PermissionDenied(ApiKeyScopePermission.message)


class ApiKeyScopePermission(permissions.BasePermission):
    """A second line for API keys: the same check as the authentication
    class, for a request that was authenticated without a view in its
    context. Sessions and JWTs are not limited by scopes (their user's role
    is checked by the view's own permission classes)."""

    message = "This API key's scopes or its owner's role do not allow this request."

    def has_permission(self, request: Request, view: Any) -> bool:
        from accounts.models import ApiKey

        if not isinstance(request.auth, ApiKey) or getattr(request, _CHECKED_ATTRIBUTE, False):
            return True
        api_key_view_check(request, request.auth, view)
        return True

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return True
