"""Organization settings pages: members, roles, invitations, approvals and
access reviews. Views are thin: selectors read, services write, and every
check goes through the authorization service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import authorization, selectors, services
from accounts.authorization import permission_required
from accounts.models import (
    AccessReviewCampaign,
    AccessReviewItem,
    ApprovalRequest,
    Invitation,
    Membership,
    Organization,
    Role,
)
from accounts.permissions import CATALOG
from cloudexpress.api.exceptions import ServiceError


def _organization(request: HttpRequest) -> Organization:
    return request.organization  # type: ignore[attr-defined, no-any-return]


def _attempt(request: HttpRequest, action: Callable[[], Any], success: str) -> Any:
    """Run a service; show its refusal beside the page instead of failing."""
    try:
        result = action()
    except ServiceError as exc:
        messages.error(request, str(exc.detail))
        return None
    messages.success(request, success)
    return result


def _date_end(value: Any) -> datetime | None:
    """A date picked in a form, as the end of that day in UTC."""
    if not value:
        return None
    return datetime.combine(value, time(23, 59, 59), tzinfo=timezone.get_current_timezone())


def _role(organization: Organization, public_id: str | None) -> Role | None:
    if not public_id:
        return None
    return Role.objects.filter(
        Q(organization=organization) | Q(organization__isnull=True), public_id=public_id
    ).first()


def _base_context(request: HttpRequest, tab: str) -> dict[str, Any]:
    organization = _organization(request)
    held = authorization.user_permissions(request.user, organization)
    return {"organization": organization, "held": held, "tab": tab}


@login_required
def organization_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "accounts/org/list.html",
        {"organizations": selectors.organizations_for_user(request.user)},  # type: ignore[arg-type]
    )


@permission_required("org.view")
def organization_overview(request: HttpRequest, slug: str) -> HttpResponse:
    context = _base_context(request, "overview")
    organization = context["organization"]
    context["completion"] = selectors.access_review_last_completion(organization)
    context["member_count"] = Membership.objects.filter(
        organization=organization, status=Membership.Status.ACTIVE
    ).count()
    return render(request, "accounts/org/overview.html", context)


# --- Members -------------------------------------------------------------------


@permission_required("org.view")
def members(request: HttpRequest, slug: str) -> HttpResponse:
    context = _base_context(request, "members")
    organization = context["organization"]
    context["memberships"] = list(selectors.members_list(organization))
    context["roles"] = selectors.roles_assignable(organization)
    context["now"] = timezone.now()
    return render(request, "accounts/org/members.html", context)


class RoleChangeForm(forms.Form):
    role = forms.UUIDField()
    expires_on = forms.DateField(required=False)
    reason = forms.CharField(required=False, max_length=500)


@require_POST
@permission_required("members.manage")
def member_role_change(request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
    organization = _organization(request)
    membership = get_object_or_404(
        Membership.objects.select_related("user", "organization"),
        organization=organization,
        public_id=public_id,
    )
    form = RoleChangeForm(request.POST)
    role = _role(organization, str(form.data.get("role", ""))) if form.is_valid() else None
    if role is None:
        messages.error(request, "Choose a role.")
        return redirect("orgs:members", slug=slug)
    result = _attempt(
        request,
        lambda: services.membership_role_change(
            membership=membership,
            role=role,
            actor=request.user,  # type: ignore[arg-type]
            expires_at=_date_end(form.cleaned_data["expires_on"]),
            reason=form.cleaned_data["reason"],
        ),
        "Role changed.",
    )
    if isinstance(result, ApprovalRequest):
        messages.info(request, "This role needs a second person's approval: request sent.")
    return redirect("orgs:members", slug=slug)


@require_POST
@permission_required("members.manage")
def member_remove(request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
    organization = _organization(request)
    membership = get_object_or_404(Membership, organization=organization, public_id=public_id)
    _attempt(
        request,
        lambda: services.membership_remove(
            membership=membership,
            by=request.user,  # type: ignore[arg-type]
            reason=request.POST.get("reason", ""),
        ),
        "Member removed; their access ended.",
    )
    return redirect("orgs:members", slug=slug)


# --- Roles ---------------------------------------------------------------------


class RoleForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(required=False, widget=forms.Textarea)
    parent = forms.UUIDField(required=False)
    permissions = forms.MultipleChoiceField(
        required=False, choices=sorted((code, code) for code in CATALOG)
    )


@permission_required("org.view")
def roles(request: HttpRequest, slug: str) -> HttpResponse:
    context = _base_context(request, "roles")
    organization = context["organization"]
    form = RoleForm(request.POST or None)
    if request.method == "POST":
        if not authorization.user_has_perm(request.user, "roles.manage", organization):
            raise PermissionDenied("Creating roles needs the permission 'roles.manage'.")
        if form.is_valid():
            data = form.cleaned_data
            created = _attempt(
                request,
                lambda: services.role_create(
                    organization=organization,
                    actor=request.user,  # type: ignore[arg-type]
                    name=data["name"],
                    description=data["description"],
                    parent=_role(organization, str(data["parent"]) if data["parent"] else None),
                    permission_codes=data["permissions"],
                ),
                "Role created.",
            )
            if created is not None:
                return redirect("orgs:roles", slug=slug)
    context["role_views"] = selectors.roles_for_organization(organization)
    context["form"] = form
    context["catalog"] = sorted(CATALOG.items())
    return render(request, "accounts/org/roles.html", context)


@require_POST
@permission_required("roles.manage")
def role_delete(request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
    organization = _organization(request)
    role = get_object_or_404(Role, organization=organization, public_id=public_id)
    reassign_to = _role(organization, request.POST.get("reassign_to") or None)
    _attempt(
        request,
        lambda: services.role_delete(
            role=role,
            actor=request.user,  # type: ignore[arg-type]
            reassign_to=reassign_to,
        ),
        "Role deleted.",
    )
    return redirect("orgs:roles", slug=slug)


# --- Invitations ---------------------------------------------------------------


class InvitationForm(forms.Form):
    email = forms.EmailField()
    role = forms.UUIDField()
    membership_expires_on = forms.DateField(required=False)


@permission_required("members.invite")
def invitations(request: HttpRequest, slug: str) -> HttpResponse:
    context = _base_context(request, "invitations")
    organization = context["organization"]
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        role = _role(organization, str(data["role"]))
        if role is None:
            form.add_error("role", "Choose a role.")
        else:
            sent = _attempt(
                request,
                lambda: services.invitation_send(
                    organization=organization,
                    email=data["email"],
                    role=role,
                    invited_by=request.user,  # type: ignore[arg-type]
                    membership_expires_at=_date_end(data["membership_expires_on"]),
                ),
                "Invitation created.",
            )
            if sent is not None:
                return redirect("orgs:invitations", slug=slug)
    context["form"] = form
    context["roles"] = selectors.roles_assignable(organization)
    context["invitations"] = list(selectors.invitations_list(organization))
    return render(request, "accounts/org/invitations.html", context)


@require_POST
@permission_required("members.invite")
def invitation_revoke(request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
    invitation = get_object_or_404(
        Invitation, organization=_organization(request), public_id=public_id
    )
    _attempt(
        request,
        lambda: services.invitation_revoke(
            invitation=invitation,
            by=request.user,  # type: ignore[arg-type]
            reason=request.POST.get("reason", ""),
        ),
        "Invitation revoked.",
    )
    return redirect("orgs:invitations", slug=slug)


class AcceptForm(forms.Form):
    full_name = forms.CharField(max_length=200, required=False)
    password = forms.CharField(widget=forms.PasswordInput, required=False)


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the e-mail. Signed in as the invited address, accept; with
    no account yet, choose a name and password."""
    try:
        invitation = services.invitations.invitation_for_token(token)
    except ServiceError as exc:
        return render(
            request,
            "accounts/org/invitation_accept.html",
            {"error": str(exc.detail)},
            status=exc.status_code,
        )
    form = AcceptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = request.user if request.user.is_authenticated else None
        membership = _attempt(
            request,
            lambda: services.invitation_accept(
                token=token,
                user=user,  # type: ignore[arg-type]
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password"],
            ),
            "Welcome: you are now a member.",
        )
        if membership is not None:
            if user is None:
                login(
                    request,
                    membership.user,
                    backend="allauth.account.auth_backends.AuthenticationBackend",
                )
            return redirect("orgs:overview", slug=membership.organization.slug)
    return render(
        request,
        "accounts/org/invitation_accept.html",
        {"invitation": invitation, "form": form},
    )


# --- Approvals -------------------------------------------------------------------


@permission_required("org.view")
def approvals(request: HttpRequest, slug: str) -> HttpResponse:
    context = _base_context(request, "approvals")
    context["approvals"] = list(selectors.approvals_list(context["organization"]))
    return render(request, "accounts/org/approvals.html", context)


@require_POST
@permission_required("approvals.decide")
def approval_decide(request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
    approval = get_object_or_404(
        ApprovalRequest, organization=_organization(request), public_id=public_id
    )
    note = request.POST.get("note", "")
    if request.POST.get("decision") == "approve":
        _attempt(
            request,
            lambda: services.approval_approve(
                approval=approval,
                decided_by=request.user,  # type: ignore[arg-type]
                note=note,
            ),
            "Approved.",
        )
    else:
        _attempt(
            request,
            lambda: services.approval_refuse(
                approval=approval,
                decided_by=request.user,  # type: ignore[arg-type]
                note=note,
            ),
            "Refused.",
        )
    return redirect("orgs:approvals", slug=slug)


# --- Access reviews --------------------------------------------------------------


@permission_required("org.view")
def reviews(request: HttpRequest, slug: str) -> HttpResponse:
    context = _base_context(request, "reviews")
    organization = context["organization"]
    if request.method == "POST":
        started = _attempt(
            request,
            lambda: services.access_review_campaign_start(
                organization=organization,
                started_by=request.user,  # type: ignore[arg-type]
            ),
            "Campaign started.",
        )
        if started is not None:
            return redirect("orgs:review", slug=slug, public_id=started[0].public_id)
    context["campaigns"] = list(selectors.campaigns_list(organization))
    context["completion"] = selectors.access_review_last_completion(organization)
    return render(request, "accounts/org/reviews.html", context)


@permission_required("access_reviews.manage")
def review(request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
    context = _base_context(request, "reviews")
    organization = context["organization"]
    campaign = get_object_or_404(
        AccessReviewCampaign, organization=organization, public_id=public_id
    )
    context["campaign"] = campaign
    context["items"] = list(selectors.campaign_items(campaign))
    context["roles"] = selectors.roles_assignable(organization)
    return render(request, "accounts/org/review.html", context)


@require_POST
@permission_required("access_reviews.manage")
def review_item_decide(
    request: HttpRequest, slug: str, public_id: str, item_id: str
) -> HttpResponse:
    organization = _organization(request)
    item = get_object_or_404(
        AccessReviewItem,
        campaign__organization=organization,
        campaign__public_id=public_id,
        public_id=item_id,
    )
    _attempt(
        request,
        lambda: services.access_review_item_decide(
            item=item,
            reviewer=request.user,  # type: ignore[arg-type]
            decision=request.POST.get("decision", ""),
            new_role=_role(organization, request.POST.get("new_role") or None),
            note=request.POST.get("note", ""),
        ),
        "Decision recorded.",
    )
    return redirect("orgs:review", slug=slug, public_id=public_id)
