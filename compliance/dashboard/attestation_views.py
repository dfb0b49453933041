"""Attesting a control and reviewing an attestation, from the control's page.

An attestation counts for its control only once a second person reviewed it
(``compliance.attestations``): whoever holds evidence.upload attests with a
file, whoever holds controls.manage reviews what somebody else attested.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.authorization import user_has_perm
from cloudexpress.api.exceptions import ServiceError
from compliance import attestations
from compliance.dashboard import selectors
from compliance.dashboard.views import controls_view_required
from compliance.models import Attestation, Classification, Control

ATTEST_PERMISSION = "evidence.upload"
REVIEW_PERMISSION = "controls.manage"


class AttestationForm(forms.Form):
    file = forms.FileField(help_text="The proof: minutes, a signed policy, an export.")
    statement = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What the file shows, in a sentence or two.",
    )
    expires_on = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="After this day the control falls back to failing.",
    )
    classification = forms.ChoiceField(
        choices=Classification.choices, initial=Classification.CONFIDENTIAL
    )

    def clean_statement(self) -> str:
        statement = self.cleaned_data["statement"].strip()
        if not statement:
            raise forms.ValidationError("Say what the file shows.")
        return statement

    def clean_expires_on(self) -> Any:
        expires_on = self.cleaned_data["expires_on"]
        if expires_on <= timezone.localdate():
            raise forms.ValidationError("The expiry must be a day after today.")
        return expires_on


def control_page_permissions(user: Any) -> dict[str, bool]:
    """What the control page offers this user besides reading."""
    return {
        "may_attest": user_has_perm(user, ATTEST_PERMISSION, record_denial=False),
        "may_review": user_has_perm(user, REVIEW_PERMISSION, record_denial=False),
    }


@require_POST
@controls_view_required
def control_attest(request: HttpRequest, code: str) -> HttpResponse:
    if not user_has_perm(request.user, ATTEST_PERMISSION):
        raise PermissionDenied(f"You do not hold the permission {ATTEST_PERMISSION!r}.")
    control = get_object_or_404(Control, code=code, is_active=True)
    form = AttestationForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        expires_at = timezone.make_aware(
            datetime.combine(form.cleaned_data["expires_on"], time(23, 59, 59))
        )
        try:
            attestations.attestation_create(
                control=control,
                upload=upload,
                file_name=upload.name,
                statement=form.cleaned_data["statement"],
                attested_by=request.user,
                expires_at=expires_at,
                classification=form.cleaned_data["classification"],
            )
        except ServiceError as exc:
            form.add_error(None, str(exc.detail))
        else:
            messages.success(
                request,
                "Attestation stored. It counts for the control once someone else reviews it.",
            )
            return HttpResponseRedirect(reverse("dashboard-control", args=[code]))
    context = selectors.control_detail(code)
    if context is None:
        raise Http404("no such control")
    context.update(control_page_permissions(request.user), attest_form=form)
    return render(request, "dashboard/control_detail.html", context, status=400)


@require_POST
@controls_view_required
def attestation_review(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    if not user_has_perm(request.user, REVIEW_PERMISSION):
        raise PermissionDenied(f"You do not hold the permission {REVIEW_PERMISSION!r}.")
    attestation = get_object_or_404(Attestation, pk=pk, control__code=code)
    try:
        attestations.attestation_review(attestation=attestation, reviewer=request.user)
    except ServiceError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(
            request,
            "Reviewed. The attestation counts for the control from the next compliance run.",
        )
    return HttpResponseRedirect(reverse("dashboard-control", args=[code]))
