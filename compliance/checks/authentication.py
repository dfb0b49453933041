"""Checks over authentication: lockout, tokens, MFA, password age, keys,
registration and address allowlists.

Each check reads the accounts models by their own names and fields (TOTP
devices confirmed as ``accounts.auth.mfa`` confirms them, keys usable as
``ApiKey.is_usable`` decides, invitations by their status), so a renamed
field fails loudly as an ``error`` result instead of passing unread.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.db.models import F, Q

from accounts.models import (
    ApiKey,
    Invitation,
    IpAllowlistEntry,
    Membership,
    Role,
    TOTPDevice,
    User,
)
from compliance.checks.registry import (
    CheckContext,
    Outcome,
    check,
    judged,
    not_applicable,
    not_implemented,
)
from compliance.policy import threshold

PRIVILEGED_KINDS = (Role.Kind.OWNER, Role.Kind.ADMIN)
ALLAUTH_BACKEND = "allauth.account.auth_backends.AuthenticationBackend"
PROJECT_JWT_AUTHENTICATION = "accounts.auth.api.JWTAuthentication"


def privileged_users_query(now: object) -> Q:
    """Staff, superusers and current owners or admins of any organization."""
    membership = Q(
        memberships__status=Membership.Status.ACTIVE,
        memberships__role__kind__in=PRIVILEGED_KINDS,
    ) & (Q(memberships__expires_at=None) | Q(memberships__expires_at__gt=now))
    return Q(is_staff=True) | Q(is_superuser=True) | membership


@check("cc-lockout", controls=["CX-ATH-01"], weight=2)
def lockout(ctx: CheckContext) -> Outcome:
    """Accounts lock after the policy's number of failed sign-ins."""
    # Lockout is enforced only where axes' backend authenticates first.
    if not any(b.startswith("axes.backends.") for b in settings.AUTHENTICATION_BACKENDS):
        return not_implemented("no django-axes authentication backend: no account lockout")
    limit = threshold("lockout_max_failures")
    failures = getattr(settings, "AXES_FAILURE_LIMIT", 3)
    parameters = getattr(settings, "AXES_LOCKOUT_PARAMETERS", None)
    callable_set = bool(getattr(settings, "AXES_USERNAME_CALLABLE", None))
    enabled = getattr(settings, "AXES_ENABLED", True)
    problems = []
    if not enabled:
        problems.append("AXES_ENABLED is off")
    if not (0 < int(failures) <= limit):
        problems.append(f"AXES_FAILURE_LIMIT {failures} exceeds {limit}")
    if not callable_set:
        problems.append("AXES_USERNAME_CALLABLE is unset: sign-in by e-mail is not counted")
    if not getattr(settings, "AXES_COOLOFF_TIME", None):
        problems.append("AXES_COOLOFF_TIME is unset")
    return judged(
        not problems,
        f"accounts lock after {failures} failures",
        "lockout is weaker than policy",
        problems,
        failure_limit=failures,
        lockout_parameters=str(parameters),
        username_callable=callable_set,
    )


@check("cc-jwt-lifetime", controls=["CX-ACC-01"])
def jwt_lifetime(ctx: CheckContext) -> Outcome:
    """API access tokens are short-lived, and a reused refresh token is caught."""
    config = getattr(settings, "SIMPLE_JWT", None)
    if not config:
        return not_implemented("JWT authentication (SIMPLE_JWT) is not configured")
    limit = timedelta(minutes=threshold("jwt_access_max_minutes"))
    access = config.get("ACCESS_TOKEN_LIFETIME")
    # Reuse of a rotated refresh token is caught either by simplejwt's
    # blacklist or by the project's own token families.
    families = apps.is_installed("rest_framework_simplejwt.token_blacklist") and config.get(
        "BLACKLIST_AFTER_ROTATION"
    )
    # The project's token families (accounts.TokenFamily) catch reuse when
    # the API authenticates bearer tokens through its own class, which
    # refuses a token of a revoked family.
    authenticators = settings.REST_FRAMEWORK.get("DEFAULT_AUTHENTICATION_CLASSES", ())
    families = families or PROJECT_JWT_AUTHENTICATION in authenticators
    problems = []
    if access is None or access > limit:
        problems.append(f"access token lifetime {access} exceeds {limit}")
    if not config.get("ROTATE_REFRESH_TOKENS"):
        problems.append("ROTATE_REFRESH_TOKENS is off")
    if not families:
        problems.append("nothing detects the reuse of a rotated refresh token")
    return judged(
        not problems,
        "tokens are short-lived and rotate",
        "token settings are weak",
        problems,
        access_lifetime=str(access),
        limit=str(limit),
        reuse_detection=bool(families),
    )


@check("cc-mfa-privileged", controls=["CX-ATH-01"], weight=3)
def mfa_privileged(ctx: CheckContext) -> Outcome:
    """Every privileged account has a confirmed second factor."""
    # Confirmed as the sign-in flow confirms it (accounts.auth.mfa): an
    # enrolment that never entered a valid code is not a second factor.
    with_device = TOTPDevice.objects.filter(confirmed=True).values("user_id")
    missing = list(
        User.objects.filter(privileged_users_query(ctx.now), terminated_at=None, is_active=True)
        .exclude(pk__in=with_device)
        .distinct()
        .order_by("pk")
        .values_list("public_id", flat=True)[:50]
    )
    return judged(
        not missing,
        "every privileged account has a second factor",
        f"{len(missing)} privileged account(s) without a second factor",
        [f"user {pk}" for pk in missing],
        device_model=TOTPDevice._meta.label,
    )


@check("cc-password-age", controls=["CX-ATH-01"])
def password_age(ctx: CheckContext) -> Outcome:
    """No password past its expiry is in use, where the policy expires them."""
    profile = getattr(settings, "PASSWORD_POLICY_PROFILE", "default")
    if profile == "nist":
        return not_applicable(
            "the NIST SP 800-63B profile is active, which forbids periodic expiry",
            profile=profile,
        )
    max_age = threshold("password_max_age_days")
    cutoff = ctx.now - timedelta(days=max_age)
    stale = (
        User.objects.filter(terminated_at=None, is_active=True)
        .filter(Q(password_changed_at__lt=cutoff) | Q(password_changed_at=None))
        .exclude(password__startswith="!")
        .order_by("pk")
    )
    count = stale.count()
    sample = list(stale.values_list("public_id", flat=True)[:50])
    return judged(
        count == 0,
        f"every password is younger than {max_age} days",
        f"{count} active account(s) with a password older than {max_age} days",
        [f"user {pk}" for pk in sample],
        max_age_days=max_age,
        profile=profile,
    )


@check("cc-email-verification", controls=["CX-ACC-02"], weight=2)
def email_verification(ctx: CheckContext) -> Outcome:
    """Sign-up requires a verified e-mail address."""
    if ALLAUTH_BACKEND not in settings.AUTHENTICATION_BACKENDS:
        return not_implemented("self-service registration (django-allauth) is not wired")
    mode = getattr(settings, "ACCOUNT_EMAIL_VERIFICATION", "optional")
    return judged(
        mode == "mandatory",
        "e-mail verification is mandatory",
        f"e-mail verification is {mode!r}",
        ["ACCOUNT_EMAIL_VERIFICATION"],
        mode=mode,
    )


@check("cc-api-key-age", controls=["CX-ACC-01"])
def api_key_age(ctx: CheckContext) -> Outcome:
    """Active API keys are within their rotation age."""
    max_age = threshold("api_key_max_age_days")
    # Usable as ApiKey.is_usable decides: not revoked, not past its expiry.
    keys = ApiKey.objects.filter(revoked_at=None).filter(
        Q(expires_at=None) | Q(expires_at__gt=ctx.now)
    )
    stale = keys.filter(created_at__lt=ctx.now - timedelta(days=max_age))
    sample = list(stale.order_by("pk").values_list("prefix", flat=True)[:50])
    count = stale.count()
    return judged(
        count == 0,
        f"every active key is younger than {max_age} days",
        f"{count} active key(s) older than {max_age} days",
        [f"api key {prefix}" for prefix in sample],
        max_age_days=max_age,
    )


@check("cc-ip-allowlist", controls=["CX-ACC-01"])
def ip_allowlist(ctx: CheckContext) -> Outcome:
    """No organization's allowlist admits every address."""
    # Allowlists are short (a few ranges per organization), so each entry is
    # parsed here with the same library the middleware matches with.
    wide = []
    entries = IpAllowlistEntry.objects.values_list("pk", "cidr")
    for pk, value in entries.iterator():
        try:
            network = ipaddress.ip_network(str(value), strict=False)
        except ValueError:
            wide.append(f"entry {pk}: invalid {value}")
            continue
        if network.prefixlen == 0:
            wide.append(f"entry {pk}: {value}")
    return judged(
        not wide,
        "no allowlist entry admits every address",
        "allowlist entries admit every address or are invalid",
        wide,
    )


@check("cc-invitations-expire", controls=["CX-ACC-02"])
def invitations_expire(ctx: CheckContext) -> Outcome:
    """Pending invitations expire within seven days of being sent."""
    longest = timedelta(days=7, minutes=5)
    # Accepted, revoked, refused and expired invitations can no longer be used.
    pending = Invitation.objects.filter(
        status__in=(Invitation.Status.PENDING, Invitation.Status.AWAITING_APPROVAL)
    )
    too_long = pending.filter(
        Q(expires_at=None) | Q(expires_at__gt=F("created_at") + longest)
    ).order_by("pk")
    bad = [f"invitation {pk}" for pk in too_long.values_list("public_id", flat=True)[:50]]
    return judged(
        not bad,
        "every pending invitation expires within 7 days",
        f"{len(bad)} invitation(s) valid longer than 7 days",
        bad,
    )
