"""Django admin for authentication records (on django-otp's admin site)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django_otp.admin import OTPAdminAuthenticationForm

from accounts.auth import mfa, sessions
from accounts.models import ApiKey, IpAllowlistEntry, TokenFamily, TOTPDevice, User, UserSession


class CountryCheckedAdminLoginForm(OTPAdminAuthenticationForm):
    """The admin's sign-in refuses the same countries as the portal's."""

    def confirm_login_allowed(self, user: Any) -> None:
        from accounts.auth.ipallow import SIGN_IN_REFUSED_MESSAGE, sign_in_country_refused
        from cloudexpress.clientip import client_ip

        super().confirm_login_allowed(user)
        if self.request is None:
            return
        country = sign_in_country_refused(user=user, ip=client_ip(self.request), channel="admin")
        if country is not None:
            raise ValidationError(
                SIGN_IN_REFUSED_MESSAGE.format(country=country), code="country_refused"
            )


# The admin site is django-otp's (cloudexpress.urls); only its form changes.
admin.site.login_form = CountryCheckedAdminLoginForm


@admin.register(UserSession)
class UserSessionAdmin(admin.ModelAdmin):
    list_display = ("user", "ip", "created_at", "last_seen_at", "expire_date")
    list_select_related = ("user",)
    search_fields = ("user__email",)
    fields = ("user", "ip", "user_agent", "created_at", "last_seen_at", "expire_date")
    readonly_fields = fields
    actions = ["sign_out_users_everywhere"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Sign these sessions' users out everywhere")
    def sign_out_users_everywhere(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        user_ids = set(queryset.exclude(user=None).values_list("user_id", flat=True))
        for user in User.objects.filter(pk__in=user_ids):
            sessions.sessions_revoke_all(user=user, actor=request.user)
        messages.success(request, f"Signed out {len(user_ids)} user(s) everywhere.")


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(admin.ModelAdmin):
    # The seed is never shown; a reset removes the factor and its tokens.
    list_display = ("user", "name", "confirmed", "created_at", "throttling_failure_count")
    list_select_related = ("user",)
    fields = ("user", "name", "confirmed", "created_at", "confirmed_at")
    readonly_fields = fields
    actions = ["reset_mfa"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Reset MFA of these users (tokens issued before are refused)")
    def reset_mfa(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for user in User.objects.filter(pk__in=queryset.values("user_id")):
            mfa.mfa_reset(user=user, actor=request.user)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "kind", "user", "organization", "expires_at", "revoked_at")
    list_select_related = ("user", "organization")
    exclude = ("secret_hash",)
    readonly_fields = ("prefix", "last_used_at", "last_used_ip", "created_at", "rotated_from")


@admin.register(TokenFamily)
class TokenFamilyAdmin(admin.ModelAdmin):
    list_display = ("public_id", "user", "created_at", "revoked_at", "revoked_reason")
    list_select_related = ("user",)


@admin.register(IpAllowlistEntry)
class IpAllowlistEntryAdmin(admin.ModelAdmin):
    list_display = ("organization", "cidr", "description", "created_at")
    list_select_related = ("organization",)
