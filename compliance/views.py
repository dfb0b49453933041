"""The compliance page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from compliance import selectors
from compliance.scoring import FORMULA_SUMMARY


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    if not selectors.user_can_view_controls(request.user):
        raise PermissionDenied
    context = selectors.overview_page(selectors.latest_full_run())
    context["formula"] = FORMULA_SUMMARY
    return render(request, "compliance/overview.html", context)
