"""Pages of the authentication flows (thin: the work is in the services)."""

from __future__ import annotations

import logging
from typing import Any

from allauth.account.internal.decorators import login_stage_required
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import DEVICE_ID_SESSION_KEY

from accounts.auth import mfa, sessions
from accounts.auth.forms import SecondFactorForm
from accounts.auth.stages import STAGE_KEY
from accounts.models import TOTPDevice

logger = logging.getLogger(__name__)


def _enrolment_device(request: HttpRequest, stage: Any) -> TOTPDevice:
    user = stage.login.user
    device_id = stage.state.get("device_id")
    device = None
    if device_id:
        device = TOTPDevice.objects.filter(pk=device_id, user_id=user.pk).first()
    if device is None:
        device = mfa.totp_device_start(user=user)
        stage.state["device_id"] = device.pk
        # The stashed login lives in the session: store the new state there.
        from allauth.account.internal.stagekit import stash_login

        stash_login(request, stage.login)
    return device


@login_stage_required(stage=STAGE_KEY, redirect_urlname="account_login")
@require_http_methods(["GET", "POST"])
def second_factor(request: HttpRequest) -> HttpResponse:
    """Ask for the second factor, or enrol one first when it is required."""
    stage = request._login_stage  # type: ignore[attr-defined]
    user = stage.login.user
    mode = stage.state.get("mode", "verify")
    form = SecondFactorForm(request.POST or None)
    context: dict[str, Any] = {"form": form, "mode": mode}

    if mode == "enrolled":
        if request.method == "POST" and request.POST.get("action") == "continue":
            return stage.exit()
        return render(request, "accounts/auth/second_factor.html", context)

    if mode == "enrol":
        device = _enrolment_device(request, stage)
        context["qr_data_uri"] = mfa.totp_qr_data_uri(device)
        context["secret"] = device.secret
        if request.method == "POST" and form.is_valid():
            codes = mfa.totp_device_confirm(device=device, code=form.cleaned_data["code"])
            if codes is not None:
                request.session[DEVICE_ID_SESSION_KEY] = device.persistent_id
                stage.state["mode"] = "enrolled"
                from allauth.account.internal.stagekit import stash_login

                stash_login(request, stage.login)
                context.update(mode="enrolled", backup_codes=codes)
                return render(request, "accounts/auth/second_factor.html", context)
            form.add_error("code", "That code is not valid. Try the current one.")
        return render(request, "accounts/auth/second_factor.html", context)

    if request.method == "POST" and form.is_valid():
        result, wait = mfa.second_factor_verify(
            user=user, code=form.cleaned_data["code"], channel="web"
        )
        if result == mfa.MfaResult.ACCEPTED:
            device = mfa.confirmed_device(user)
            if device is not None:
                request.session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            return stage.exit()
        if result == mfa.MfaResult.THROTTLED:
            form.add_error("code", f"Too many wrong codes. Try again in {wait} seconds.")
        else:
            form.add_error("code", "That code is not valid.")
        status = 429 if result == mfa.MfaResult.THROTTLED else 400
        return render(request, "accounts/auth/second_factor.html", context, status=status)
    return render(request, "accounts/auth/second_factor.html", context)


@login_required
def password_policy(request: HttpRequest) -> HttpResponse:
    """The password policy in force: the same facts as the policy API."""
    from accounts.auth.passwords import policy_describe

    return render(request, "accounts/auth/password_policy.html", {"policy": policy_describe()})


@login_required
def session_list(request: HttpRequest) -> HttpResponse:
    rows = sessions.sessions_for_user(user=request.user, current_key=request.session.session_key)
    return render(request, "accounts/auth/sessions.html", {"sessions": rows})


@login_required
@require_POST
def session_revoke(request: HttpRequest, session_id: str) -> HttpResponse:
    revoked = sessions.session_revoke_own(
        user=request.user, public_handle=session_id, current_key=request.session.session_key
    )
    if revoked:
        messages.success(request, "The session was signed out.")
    return HttpResponseRedirect(reverse("auth_sessions"))


@login_required
@require_http_methods(["GET", "POST"])
def github_link(request: HttpRequest) -> HttpResponse:
    """Confirm password and second factor, then offer the GitHub connect button."""
    from django.contrib.auth import authenticate

    from accounts.auth.forms import GitHubLinkForm
    from accounts.auth.github import github_link_allow

    form = GitHubLinkForm(request.POST or None)
    user = request.user
    needs_code = mfa.mfa_enabled_for(user) or mfa.mfa_required_for(user)
    if request.method == "POST" and form.is_valid():
        checked = authenticate(request, email=user.email, password=form.cleaned_data["password"])
        if checked is None or checked.pk != user.pk:
            form.add_error("password", "The password is not correct.")
        elif needs_code:
            result, _ = mfa.second_factor_verify(
                user=user, code=form.cleaned_data["code"], channel="github_link"
            )
            if result != mfa.MfaResult.ACCEPTED:
                form.add_error("code", "That code is not valid.")
        if not form.errors:
            github_link_allow(request)
            return render(request, "accounts/auth/github_link.html", {"confirmed": True})
    return render(
        request, "accounts/auth/github_link.html", {"form": form, "needs_code": needs_code}
    )


@login_required
@require_http_methods(["GET", "POST"])
def ip_allowlist(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The organization's allowlist (the middleware checked membership and address)."""
    from accounts.auth import ipallow
    from accounts.authorization import permission_denied_record, user_has_perm
    from accounts.models import IpAllowlistEntry
    from cloudexpress.clientip import client_ip

    organization = request.cx_organization  # type: ignore[attr-defined]
    may_manage = user_has_perm(
        request.user, "ip_allowlist.manage", organization, record_denial=False
    )
    context: dict[str, Any] = {
        "organization": organization,
        "may_manage": may_manage,
        "refused_countries": ipallow.blocked_countries(organization.pk),
    }
    if request.method == "POST":
        if not may_manage:
            permission_denied_record(request.user, "ip_allowlist.manage", organization.pk)
            return render(
                request, "errors/error.html", {"status": 403, "title": "Forbidden"}, status=403
            )
        if request.POST.get("action") == "countries":
            return _refused_countries_save(request, organization, context)
        try:
            ipallow.allowlist_entry_add(
                organization=organization,
                cidr=request.POST.get("cidr", ""),
                actor=request.user,
                actor_ip=client_ip(request),
                confirm=request.POST.get("confirm") == "yes",
            )
        except ipallow.AllowlistLockoutError as exc:
            context.update(error=str(exc), needs_confirm=True, cidr=request.POST.get("cidr", ""))
        except ValueError:
            context.update(error="Enter a range such as 203.0.113.0/24 or 2001:db8::/32.")
        else:
            return HttpResponseRedirect(request.path)
    context["entries"] = list(
        IpAllowlistEntry.objects.filter(organization=organization).order_by("cidr")
    )
    status = 400 if context.get("error") else 200
    return render(request, "accounts/auth/ip_allowlist.html", context, status=status)


def _refused_countries_save(
    request: HttpRequest, organization: Any, context: dict[str, Any]
) -> HttpResponse:
    """Save the countries the organization refuses (sign-in and acting in it);
    refusing the admin's own current country needs a confirmation."""
    import re

    from accounts.auth import ipallow
    from accounts.auth.geo import country_for_ip
    from cloudexpress.clientip import client_ip

    typed = request.POST.get("countries", "")
    codes = [code.strip().upper() for code in typed.replace(",", " ").split()]
    invalid = [code for code in codes if not re.fullmatch(r"[A-Z]{2}", code)]
    own = country_for_ip(client_ip(request))
    if invalid:
        context.update(country_error="Give two-letter country codes (ISO 3166-1), e.g. FR, NL.")
    elif own in codes and request.POST.get("confirm") != "yes":
        context.update(
            country_error=f"Your current address is in {own}: confirm to refuse it.",
            needs_country_confirm=True,
        )
    else:
        ipallow.access_policy_set_blocked_countries(
            organization=organization, countries=codes, actor=request.user
        )
        return HttpResponseRedirect(request.path)
    context.update(
        countries_typed=typed,
        entries=list(organization.ip_allowlist.order_by("cidr")),
    )
    return render(request, "accounts/auth/ip_allowlist.html", context, status=400)


def rate_limited(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """allauth's per-address page limits end here: a 429 with Retry-After."""
    from audit.models import SecurityEvent
    from audit.services import security_event_record
    from cloudexpress.api.exceptions import json_error

    security_event_record(
        event_type=SecurityEvent.Type.THROTTLED, detail={"scope": "page", "path": request.path}
    )
    if request.path.startswith("/api/"):
        response: HttpResponse = json_error(request, 429, "Too many requests: slow down.")
    else:
        response = render(
            request, "errors/error.html", {"status": 429, "title": "Too many requests"}, status=429
        )
    response["Retry-After"] = "60"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def mfa_settings(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator (optional for most members), or renew backup codes."""
    user = request.user
    device = mfa.confirmed_device(user)
    context: dict[str, Any] = {
        "enrolled": device is not None,
        "required": mfa.mfa_required_for(user),
        "form": SecondFactorForm(),
    }
    action = request.POST.get("action", "") if request.method == "POST" else ""

    if device is None:
        pending = TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).first()
        if pending is None or action == "restart":
            pending = mfa.totp_device_start(user=user)
        if action == "confirm":
            form = SecondFactorForm(request.POST)
            codes = None
            if form.is_valid():
                codes = mfa.totp_device_confirm(device=pending, code=form.cleaned_data["code"])
            if codes is not None:
                request.session[DEVICE_ID_SESSION_KEY] = pending.persistent_id
                # A new factor is a privilege change: new session key.
                sessions.session_rotate(request)
                return render(
                    request,
                    "accounts/auth/mfa_settings.html",
                    {"enrolled": True, "backup_codes": codes},
                )
            form.add_error("code", "That code is not valid. Try the current one.")
            context["form"] = form
        context.update(qr_data_uri=mfa.totp_qr_data_uri(pending), secret=pending.secret)
        return render(request, "accounts/auth/mfa_settings.html", context)

    if action == "backup_codes":
        form = SecondFactorForm(request.POST)
        if form.is_valid():
            result, _ = mfa.second_factor_verify(
                user=user, code=form.cleaned_data["code"], channel="backup_codes_renew"
            )
            if result == mfa.MfaResult.ACCEPTED:
                codes = mfa.backup_codes_generate(user_id=user.pk)
                context["backup_codes"] = codes
                return render(request, "accounts/auth/mfa_settings.html", context)
        form.add_error("code", "That code is not valid.")
        context["form"] = form
    return render(request, "accounts/auth/mfa_settings.html", context)
