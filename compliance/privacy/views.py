"""Self-service privacy pages: profile, consent preferences, privacy notice."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts.models import User
from cloudexpress.api.exceptions import ServiceError
from compliance.models import Classification, ConsentRecord, PrivacyNotice
from compliance.privacy import consent, profile


class ProfileForm(forms.Form):
    # A plain form: a ModelForm would write into request.user while
    # validating, and the service would then see nothing to correct.
    full_name = forms.CharField(max_length=200, required=False)
    email = forms.EmailField(max_length=254, label="E-mail address")


@login_required
@require_http_methods(["GET", "POST"])
def profile_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    form = ProfileForm(
        request.POST or None, initial={"full_name": user.full_name, "email": user.email}
    )
    if request.method == "POST" and form.is_valid():
        try:
            profile.profile_correct(
                user=user,
                full_name=form.cleaned_data["full_name"],
                email=form.cleaned_data["email"],
            )
        except ServiceError as refusal:
            form.add_error("email", str(refusal.detail))
        else:
            messages.success(request, "Your profile was corrected.")
            return redirect("privacy-profile")
    return render(
        request,
        "privacy/profile.html",
        {
            "form": form,
            "profile": profile.profile_summary(user),
            "classification": Classification.RESTRICTED.label,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def consent_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        decision = request.POST.get("decision", "")
        purpose = request.POST.get("purpose", "")
        if decision in ConsentRecord.Decision.values and purpose:
            consent.consent_record(user=request.user, purpose_code=purpose, decision=decision)
            messages.success(request, "Your choice was recorded.")
        return redirect("privacy-consent")
    return render(
        request,
        "privacy/consent.html",
        {
            "purposes": consent.consent_overview(request.user),
            "history": consent.consent_history(request.user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def notice_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        notice = get_object_or_404(PrivacyNotice, version=request.POST.get("version"))
        consent.privacy_notice_acknowledge(user=request.user, notice=notice)
        return redirect("privacy-notice")
    return render(
        request, "privacy/notice.html", {"status": consent.privacy_notice_status(request.user)}
    )
