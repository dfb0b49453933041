"""The evidence room for auditors: read-only pages over a chosen period,
downloads, and evidence requests. Every view and download is audited."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.authorization import user_has_perm
from cloudexpress.api.exceptions import ServiceError
from compliance.dashboard import evidence
from compliance.models import Attestation, Control, EvidenceRequest, EvidenceResponseFile
from compliance.reports.forms import DATE_INVALID
from compliance.reports.periods import report_period_fill

VIEW_PERMISSION = "evidence.view"
ANSWER_PERMISSION = evidence.LIAISON_PERMISSION
DESIGNATE_PERMISSION = evidence.DESIGNATE_PERMISSION


_View = Callable[..., HttpResponseBase]


def perm_required(code: str) -> Callable[[_View], _View]:
    def decorator(view: _View) -> _View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            # The membership's expiry makes the auditor's access time-boxed.
            if not user_has_perm(request.user, code):
                raise PermissionDenied(f"You do not hold the permission {code!r}.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


class PeriodForm(forms.Form):
    """The evidence room's period from ``?start=&end=``.

    A date that is not one, or a period that ends before it starts, gets a
    message beside its field; what was valid is kept and the rest is the
    default, and the page says which period it shows.
    """

    start = forms.DateField(required=False, error_messages={"invalid": DATE_INVALID})
    end = forms.DateField(required=False, error_messages={"invalid": DATE_INVALID})

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        today = timezone.localdate()
        if end and end > today:
            # What the stored runs showed cannot reach past today, as the
            # reports say for the same period (report_period_problems).
            self.add_error("end", f"The period must end today ({today.isoformat()}) or earlier.")
            end = None
        if start and start > (end or today):
            # Neither end is trusted over the other: both are dropped and the
            # message keeps what was asked.
            self.add_error(
                "end", f"The period must end on or after its first day, {start.isoformat()}."
            )
            cleaned.pop("start", None)
        return cleaned

    def period(self) -> tuple[date, date]:
        """Return the period to show: the valid dates asked, the default otherwise."""
        self.is_valid()
        return report_period_fill(self.cleaned_data.get("start"), self.cleaned_data.get("end"))


class RequestForm(forms.Form):
    control = forms.ModelChoiceField(
        queryset=Control.objects.filter(is_active=True).order_by("code"), to_field_name="code"
    )
    question = forms.CharField(widget=forms.Textarea, max_length=4000)
    due_on = forms.DateField()


class LiaisonForm(forms.Form):
    liaison = forms.EmailField(label="Audit liaison (a member's e-mail)", max_length=254)


class AnswerForm(forms.Form):
    # The files come from request.FILES.getlist("files"): Django's FileField
    # cleans one file only.
    note = forms.CharField(widget=forms.Textarea, max_length=4000)


@perm_required(VIEW_PERMISSION)
def room(request: HttpRequest) -> HttpResponse:
    period_form = PeriodForm(request.GET)
    start, end = period_form.period()
    evidence.evidence_viewed_record(request.user, "controls", (start, end))
    context = {
        "start": start,
        "end": end,
        "period_form": period_form,
        **evidence.evidence_controls(start, end),
    }
    return render(request, "dashboard/evidence/index.html", context)


@perm_required(VIEW_PERMISSION)
def control(request: HttpRequest, code: str) -> HttpResponse:
    period_form = PeriodForm(request.GET)
    start, end = period_form.period()
    context = evidence.evidence_control(code, start, end)
    if context is None:
        raise Http404("no such control")
    evidence.evidence_viewed_record(request.user, f"control:{code}", (start, end))
    context |= {"start": start, "end": end, "period_form": period_form}
    return render(request, "dashboard/evidence/control.html", context)


@perm_required(VIEW_PERMISSION)
def attestation_file(request: HttpRequest, pk: int) -> HttpResponseBase:
    attestation = get_object_or_404(Attestation, pk=pk)
    evidence.evidence_downloaded_record(request.user, f"attestation:{attestation.pk}")
    return FileResponse(
        attestation.file.open("rb"), as_attachment=True, filename=attestation.file_name
    )


@perm_required(VIEW_PERMISSION)
def response_file(request: HttpRequest, pk: int) -> HttpResponseBase:
    item = get_object_or_404(EvidenceResponseFile, pk=pk)
    evidence.evidence_downloaded_record(request.user, f"response_file:{item.pk}")
    return FileResponse(item.file.open("rb"), as_attachment=True, filename=item.file_name)


def _requests_page(
    request: HttpRequest,
    *,
    form: RequestForm | None = None,
    liaison_form: LiaisonForm | None = None,
) -> HttpResponse:
    # The list shows the liaisons' notes and files: reading it is a view.
    evidence.evidence_viewed_record(request.user, "requests", None)
    rows = evidence.evidence_requests_list()
    today = timezone.localdate()
    liaison = evidence.audit_liaison_get()
    context = {
        "form": form or RequestForm(),
        "liaison": liaison,
        "liaison_form": liaison_form
        or LiaisonForm(initial={"liaison": liaison.email if liaison else ""}),
        "rows": [{"request": row, "overdue": row.is_overdue(today)} for row in rows],
        "open": sum(1 for row in rows if row.status != EvidenceRequest.Status.CLOSED),
        "may_answer": user_has_perm(request.user, ANSWER_PERMISSION, record_denial=False),
        "may_designate": user_has_perm(request.user, DESIGNATE_PERMISSION, record_denial=False),
    }
    return render(request, "dashboard/evidence/requests.html", context)


@perm_required(VIEW_PERMISSION)
def requests(request: HttpRequest) -> HttpResponse:
    form = RequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            evidence.evidence_request_create(
                user=request.user,
                control=form.cleaned_data["control"],
                question=form.cleaned_data["question"],
                due_on=form.cleaned_data["due_on"],
            )
        except ServiceError as exc:
            form.add_error("due_on", str(exc.detail))
        else:
            return redirect("evidence-requests")
    return _requests_page(request, form=form)


@require_POST
@perm_required(DESIGNATE_PERMISSION)
def liaison_designate(request: HttpRequest) -> HttpResponse:
    form = LiaisonForm(request.POST)
    if form.is_valid():
        try:
            evidence.audit_liaison_designate(
                email=form.cleaned_data["liaison"], actor=request.user
            )
        except ServiceError as refusal:
            # Shown beside the field, as a form error, with the page around it.
            form.add_error("liaison", str(refusal.detail))
        else:
            messages.success(request, "The audit liaison is designated.")
            return redirect("evidence-requests")
    return _requests_page(request, liaison_form=form)


@require_POST
@perm_required(DESIGNATE_PERMISSION)
def request_reassign(request: HttpRequest, public_id: Any) -> HttpResponse:
    item = get_object_or_404(EvidenceRequest, public_id=public_id)
    form = LiaisonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Name the new liaison by a member's e-mail.")
        return redirect("evidence-requests")
    try:
        evidence.evidence_request_reassign(
            request=item, email=form.cleaned_data["liaison"], actor=request.user
        )
    except ServiceError as refusal:
        messages.error(request, str(refusal.detail))
    else:
        messages.success(request, "The request is reassigned.")
    return redirect("evidence-requests")


@require_POST
@perm_required(ANSWER_PERMISSION)
def request_answer(request: HttpRequest, public_id: Any) -> HttpResponse:
    item = get_object_or_404(EvidenceRequest, public_id=public_id)
    form = AnswerForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A note is required.")
        return redirect("evidence-requests")
    try:
        evidence.evidence_request_answer(
            request=item,
            liaison=request.user,
            note=form.cleaned_data["note"],
            files=request.FILES.getlist("files"),
        )
    except ServiceError as refusal:
        # A refusal is shown above the list, never a server error.
        messages.error(request, str(refusal.detail))
    return redirect("evidence-requests")


@require_POST
@perm_required(VIEW_PERMISSION)
def request_close(request: HttpRequest, public_id: Any) -> HttpResponse:
    item = get_object_or_404(EvidenceRequest, public_id=public_id)
    try:
        evidence.evidence_request_close(request=item, user=request.user)
    except ServiceError as refusal:
        messages.error(request, str(refusal.detail))
    return redirect("evidence-requests")
