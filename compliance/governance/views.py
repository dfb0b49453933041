"""Server-rendered pages of the governance registers under /governance/.

Each register is a list and a detail page over two shared templates. The
selectors fetch everything a page shows in a fixed number of queries; the
functions here only turn rows into the cells the templates print.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from rest_framework.exceptions import APIException

from accounts.authorization import user_is_auditor
from accounts.models import User
from compliance import models
from compliance.dashboard.evidence import evidence_viewed_record
from compliance.governance import checks, selectors, services
from compliance.governance.permissions import VIEW, user_may

Cell = dict[str, Any]
PAGE_SIZE = 50


def _text(value: Any) -> str:
    if value is None or value == "":
        return "\u2014"
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def cell(value: Any, css: str = "", url: str = "") -> Cell:
    return {"text": _text(value), "css": css, "url": url}


def due_cell(due: datetime | date | None) -> Cell:
    """A due date, marked when it has passed."""
    if due is None:
        return cell("never", "status-fail")
    today = timezone.now().date()
    day = due.date() if isinstance(due, datetime) else due
    return cell(due, "status-fail" if day < today else "")


def person(user: Any) -> str:
    return user.get_full_name() if user is not None else "\u2014"


@dataclass(frozen=True)
class Register:
    slug: str
    title: str
    description: str
    rows: Callable[[], Any]
    headers: tuple[str, ...]
    cells: Callable[[Any], list[Cell]]
    get: Callable[[Any], Any]
    detail: Callable[[Any], dict[str, Any]]


# --- Row cells per register --------------------------------------------------


def _policy_cells(p: models.Policy) -> list[Cell]:
    version = p.current_version
    return [
        cell(p.title),
        cell(p.get_kind_display()),
        cell(person(p.owner)),
        cell(f"v{version.number}" if version else "none", "" if version else "status-fail"),
        cell(p.last_reviewed_at),
        due_cell(p.review_due_at),
        cell(p.acknowledgement_count),
    ]


def _training_cells(m: models.TrainingModule) -> list[Cell]:
    roles = ", ".join(role.name for role in m.roles.all())
    return [
        cell(m.title),
        cell(m.get_kind_display()),
        cell("on joining" if m.assign_on_joining else roles or "by hand"),
        cell(f"every {m.recurrence_days} days" if m.recurrence_days else "once"),
        cell(m.open_assignments),
        cell(m.overdue_assignments, "status-fail" if m.overdue_assignments else ""),
        cell(m.completion_count),
    ]


def _vendor_cells(v: models.Vendor) -> list[Cell]:
    return [
        cell(v.name),
        cell(v.get_classification_display()),
        cell(v.get_risk_rating_display()),
        cell(person(v.owner)),
        cell(v.last_assessed_at, "" if v.last_assessed_at else "status-fail"),
        cell(v.current_agreements, "" if v.current_agreements else "status-fail"),
        cell(v.expired_reports, "status-fail" if v.expired_reports else ""),
    ]


def _risk_cells(r: models.Risk) -> list[Cell]:
    return [
        cell(r.title),
        cell(f"{r.likelihood} x {r.impact} = {r.score}", "status-fail" if r.is_high else ""),
        cell(r.get_treatment_display(), "" if r.treatment else "status-fail"),
        cell(person(r.owner)),
        cell(", ".join(c.code for c in r.controls.all())),
        due_cell(r.review_due_at),
        cell(r.get_status_display()),
    ]


def _change_cells(c: models.ChangeRequest) -> list[Cell]:
    approved = c.status == models.ChangeRequest.Status.APPROVED
    return [
        cell(c.title),
        cell(c.get_risk_display()),
        cell(person(c.author)),
        cell(person(c.approver)),
        cell(c.get_status_display(), "status-pass" if approved else ""),
        cell(c.approved_at),
        cell(c.deployment_count),
        cell(c.last_deployed_at),
    ]


def _plan_cells(p: models.DisasterRecoveryPlan) -> list[Cell]:
    met = (
        p.last_measured_rto is not None
        and p.last_measured_rto <= p.rto_minutes
        and p.last_measured_rpo <= p.rpo_minutes
    )
    return [
        cell(p.name),
        cell(f"{p.rto_minutes} min"),
        cell(f"{p.rpo_minutes} min"),
        cell(person(p.owner)),
        cell(p.last_tested_at, "" if p.last_tested_at else "status-fail"),
        cell(
            f"RTO {p.last_measured_rto} / RPO {p.last_measured_rpo} min"
            if p.last_measured_rto is not None
            else None,
            "status-pass" if met else "status-fail",
        ),
        cell(p.contact_count),
    ]


def _audit_cells(a: models.InternalAudit) -> list[Cell]:
    return [
        cell(a.title),
        cell(a.get_kind_display()),
        cell(f"{_text(a.period_start)} to {_text(a.period_end)}"),
        cell(person(a.lead)),
        cell(a.get_status_display()),
        cell(a.finding_count),
        cell(a.open_findings, "status-fail" if a.open_findings else ""),
    ]


def _finding_cells(f: models.AuditFinding) -> list[Cell]:
    today = timezone.now().date()
    return [
        cell(f.title),
        cell(f.audit.title),
        cell(f.get_severity_display()),
        cell(f.control.code if f.control else "\u2014"),
        cell(person(f.owner)),
        cell(f.due_on, "status-fail" if f.closed_at is None and f.due_on < today else ""),
        cell(f.closed_at, "" if f.closed_at else "status-fail"),
    ]


def _walkthrough_cells(w: models.Walkthrough) -> list[Cell]:
    return [
        cell(w.control.code if w.control else "\u2014"),
        cell(w.auditor_name),
        cell(person(w.presenter)),
        cell(w.scheduled_at),
        cell(w.get_status_display()),
        cell(w.held_at),
    ]


# --- Detail pages ------------------------------------------------------------


def _section(title: str, headers: list[str], rows: list[list[Cell]]) -> dict[str, Any]:
    return {"title": title, "headers": headers, "rows": rows}


def _policy_detail(p: models.Policy) -> dict[str, Any]:
    missing = selectors.policy_unacknowledged_members(policy=p)
    return {
        "fields": [
            ("Kind", p.get_kind_display()),
            ("Owner", person(p.owner)),
            ("Required for every member", _text(p.required)),
            ("Last reviewed", _text(p.last_reviewed_at)),
            ("Reviewed by", person(p.last_reviewed_by)),
            ("Next review due", _text(p.review_due_at)),
        ],
        "body": p.current_version.body if p.current_version else "",
        "sections": [
            _section(
                "Versions",
                ["Version", "Changes", "Author", "Approver", "Approved", "Acknowledged by"],
                [
                    [
                        cell(f"v{v.number}"),
                        cell(v.summary_of_changes),
                        cell(person(v.author)),
                        cell(person(v.approver)),
                        cell(v.approved_at, "" if v.approved_at else "status-fail"),
                        cell(v.acknowledgement_count),
                    ]
                    for v in p.versions.all()
                ],
            ),
            _section(
                "Active members who have not acknowledged the current version",
                ["Member"],
                [[cell(u.get_full_name(), "status-fail")] for u in missing],
            ),
        ],
    }


def _training_detail(m: models.TrainingModule) -> dict[str, Any]:
    now = timezone.now()
    return {
        "fields": [
            ("Kind", m.get_kind_display()),
            ("Assigned on joining", _text(m.assign_on_joining)),
            ("Due", f"{m.due_days} days after assignment"),
            ("Roles", ", ".join(r.name for r in m.roles.all()) or "\u2014"),
            ("Repeats", f"every {m.recurrence_days} days" if m.recurrence_days else "no"),
        ],
        "body": m.description,
        "sections": [
            _section(
                "Assignments",
                ["Person", "Reason", "Due", "Completed"],
                [
                    [
                        cell(person(a.user)),
                        cell(a.get_reason_display()),
                        cell(
                            a.due_at,
                            "status-fail" if a.completed_at is None and a.due_at < now else "",
                        ),
                        cell(a.completed_at),
                    ]
                    for a in m.assignments.all()
                ],
            ),
            _section(
                "Completions",
                ["Person", "Completed", "Score"],
                [
                    [cell(person(c.user)), cell(c.completed_at), cell(c.score)]
                    for c in m.completions.all()
                ],
            ),
        ],
    }


def _vendor_detail(v: models.Vendor) -> dict[str, Any]:
    today = timezone.now().date()
    return {
        "fields": [
            ("Service", v.service),
            ("Data received", v.data_received),
            ("Classification", v.get_classification_display()),
            ("Risk rating", v.get_risk_rating_display()),
            ("Owner", person(v.owner)),
            ("Review cadence", f"{v.review_cadence_days} days"),
            ("Status", v.get_status_display()),
        ],
        "body": "",
        "sections": [
            _section(
                "Due-diligence assessments",
                ["Assessed", "Assessor", "Rating", "Questions answered", "Notes"],
                [
                    [
                        cell(a.assessed_at),
                        cell(person(a.assessor)),
                        cell(a.get_risk_rating_display()),
                        cell(len(a.questionnaire)),
                        cell(a.notes),
                    ]
                    for a in v.assessments.all()
                ],
            ),
            _section(
                "Compliance reports",
                ["Kind", "Issued", "Expires", "SHA-256"],
                [
                    [
                        cell(r.get_kind_display()),
                        cell(r.issued_on),
                        cell(r.expires_on, "status-fail" if r.expires_on < today else ""),
                        cell(r.sha256[:16]),
                    ]
                    for r in v.reports.all()
                ],
            ),
            _section(
                "Agreements",
                ["Kind", "Reference", "Signed", "Renewal", "Last contract review"],
                [
                    [
                        cell(a.get_kind_display()),
                        cell(a.reference),
                        cell(a.signed_on),
                        cell(a.renewal_on, "" if a.is_current(today) else "status-fail"),
                        cell(max((r.reviewed_at for r in a.reviews.all()), default=None)),
                    ]
                    for a in v.agreements.all()
                ],
            ),
            _section(
                "Incidents notified by the vendor",
                ["Notified", "Severity", "Summary", "Personal data", "Resolved"],
                [
                    [
                        cell(i.notified_at),
                        cell(i.get_severity_display()),
                        cell(i.summary),
                        cell(i.personal_data_affected),
                        cell(i.resolved_at),
                    ]
                    for i in v.incidents.all()
                ],
            ),
            _section(
                "Disclosures of personal data",
                ["Disclosed", "Data", "Purpose", "Subjects", "Consent relied on"],
                [
                    [
                        cell(d.disclosed_at),
                        cell(d.data_categories),
                        cell(d.purpose),
                        cell(d.subject_count),
                        cell(
                            " ".join(
                                x
                                for x in (
                                    d.consent_purpose.code if d.consent_purpose else "",
                                    d.consent_reference.strip(),
                                )
                                if x
                            )
                            or "none",
                            "" if d.consent_purpose_id else "status-fail",
                        ),
                    ]
                    for d in v.disclosures.all()
                ],
            ),
        ],
    }


def _risk_detail(r: models.Risk) -> dict[str, Any]:
    return {
        "fields": [
            ("Category", r.category or "\u2014"),
            ("Likelihood", str(r.likelihood)),
            ("Impact", str(r.impact)),
            ("Score", f"{r.score}{' (high)' if r.is_high else ''}"),
            ("Owner", person(r.owner)),
            ("Treatment", r.get_treatment_display()),
            ("Treatment plan", r.treatment_plan or "\u2014"),
            ("Linked controls", ", ".join(c.code for c in r.controls.all()) or "\u2014"),
            ("Review period", f"{r.review_period_days} days"),
            ("Last reviewed", _text(r.last_reviewed_at)),
            ("Next review due", _text(r.review_due_at)),
        ],
        "body": r.description,
        "sections": [],
    }


def _change_detail(c: models.ChangeRequest) -> dict[str, Any]:
    return {
        "fields": [
            ("Risk", c.get_risk_display()),
            ("Author", person(c.author)),
            ("Reviewer", person(c.reviewer)),
            ("Approver", person(c.approver)),
            ("Status", c.get_status_display()),
            ("Approved", _text(c.approved_at)),
            ("Commits", ", ".join(c.commits) or "\u2014"),
        ],
        "body": c.description,
        "sections": [
            _section(
                "Deployments",
                ["Deployed", "Environment", "Commit", "Pipeline run"],
                [
                    [
                        cell(
                            d.deployed_at,
                            "status-fail"
                            if c.approved_at is None or d.deployed_at < c.approved_at
                            else "",
                        ),
                        cell(d.environment),
                        cell(d.commit),
                        cell(d.pipeline_run),
                    ]
                    for d in c.deployments.all()
                ],
            ),
        ],
    }


def _plan_detail(p: models.DisasterRecoveryPlan) -> dict[str, Any]:
    return {
        "fields": [
            ("Recovery time objective", f"{p.rto_minutes} minutes"),
            ("Recovery point objective", f"{p.rpo_minutes} minutes"),
            ("Owner", person(p.owner)),
            ("Approved", _text(p.approved_at)),
        ],
        "body": p.scope,
        "sections": [
            _section(
                "Tests",
                ["Performed", "Kind", "Measured RTO", "Measured RPO", "Met objectives", "Notes"],
                [
                    [
                        cell(t.performed_at),
                        cell(t.get_kind_display()),
                        cell(f"{t.measured_rto_minutes} min"),
                        cell(f"{t.measured_rpo_minutes} min"),
                        cell(
                            met := t.measured_rto_minutes <= p.rto_minutes
                            and t.measured_rpo_minutes <= p.rpo_minutes,
                            "status-pass" if met else "status-fail",
                        ),
                        cell(t.notes),
                    ]
                    for t in p.tests.all()
                ],
            ),
            _section(
                "Emergency contacts",
                ["Order", "Name", "Role", "Phone", "E-mail"],
                [
                    [
                        cell(c.escalation_order),
                        cell(c.name),
                        cell(c.role),
                        cell(c.phone),
                        cell(c.email),
                    ]
                    for c in p.contacts.all()
                ],
            ),
        ],
    }


def _audit_detail(a: models.InternalAudit) -> dict[str, Any]:
    today = timezone.now().date()
    return {
        "fields": [
            ("Kind", a.get_kind_display()),
            ("Period", f"{_text(a.period_start)} to {_text(a.period_end)}"),
            ("Lead", person(a.lead)),
            ("Status", a.get_status_display()),
            ("Completed", _text(a.completed_on)),
        ],
        "body": a.scope,
        "sections": [
            _section(
                "Findings",
                ["Finding", "Severity", "Control", "Owner", "Due", "Closed", "Closure"],
                [
                    [
                        cell(
                            f.title,
                            url=reverse("governance-detail", args=["findings", f.public_id]),
                        ),
                        cell(f.get_severity_display()),
                        cell(f.control.code if f.control else "\u2014"),
                        cell(person(f.owner)),
                        cell(
                            f.due_on,
                            "status-fail" if f.closed_at is None and f.due_on < today else "",
                        ),
                        cell(f.closed_at),
                        cell(f.closure_note),
                    ]
                    for f in a.findings.all()
                ],
            ),
        ],
    }


def _finding_detail(f: models.AuditFinding) -> dict[str, Any]:
    return {
        "fields": [
            ("Audit", f.audit.title),
            ("Severity", f.get_severity_display()),
            ("Control", f.control.code if f.control else "\u2014"),
            ("Owner", person(f.owner)),
            ("Opened", _text(f.opened_at)),
            ("Due", _text(f.due_on)),
            ("Closed", _text(f.closed_at) if f.closed_at else "open"),
        ],
        "body": f.closure_note,
        "sections": [],
    }


def _walkthrough_detail(w: models.Walkthrough) -> dict[str, Any]:
    return {
        "fields": [
            ("Control", w.control.code if w.control else "\u2014"),
            ("Auditor", w.auditor_name),
            ("Presenter", person(w.presenter)),
            ("Scheduled", _text(w.scheduled_at)),
            ("Status", w.get_status_display()),
            ("Held", _text(w.held_at)),
        ],
        "body": w.record,
        "sections": [],
    }


REGISTERS: dict[str, Register] = {
    r.slug: r
    for r in (
        Register(
            "policies",
            "Policies",
            "Policy documents, their approved versions, reviews and acknowledgements.",
            selectors.policy_list,
            ("Policy", "Kind", "Owner", "Version", "Reviewed", "Review due", "Acknowledged"),
            _policy_cells,
            lambda pk: selectors.policy_get(public_id=pk),
            _policy_detail,
        ),
        Register(
            "training",
            "Security training",
            "Training modules, who must take them and who has.",
            selectors.training_module_list,
            ("Module", "Kind", "Assigned", "Repeats", "Open", "Overdue", "Completions"),
            _training_cells,
            lambda pk: selectors.training_module_get(public_id=pk),
            _training_detail,
        ),
        Register(
            "vendors",
            "Vendors",
            "Third parties, the data they receive, their assessments and agreements.",
            selectors.vendor_list,
            (
                "Vendor",
                "Classification",
                "Risk",
                "Owner",
                "Last assessed",
                "Current agreements",
                "Expired reports",
            ),
            _vendor_cells,
            lambda pk: selectors.vendor_get(public_id=pk),
            _vendor_detail,
        ),
        Register(
            "risks",
            "Risk register",
            "Risks scored by likelihood and impact (1 to 5); 15 and above is high.",
            selectors.risk_list,
            ("Risk", "Score", "Treatment", "Owner", "Controls", "Review due", "Status"),
            _risk_cells,
            lambda pk: selectors.risk_get(public_id=pk),
            _risk_detail,
        ),
        Register(
            "changes",
            "Change requests",
            "Changes, their approval and the deployments recorded against them.",
            selectors.change_list,
            (
                "Change",
                "Risk",
                "Author",
                "Approver",
                "Status",
                "Approved",
                "Deployments",
                "Last deployed",
            ),
            _change_cells,
            lambda pk: selectors.change_get(public_id=pk),
            _change_detail,
        ),
        Register(
            "continuity",
            "Business continuity",
            "Disaster-recovery plans (RTO 4 hours, RPO 1 hour), their tests and contacts.",
            selectors.dr_plan_list,
            ("Plan", "RTO", "RPO", "Owner", "Last tested", "Last result", "Contacts"),
            _plan_cells,
            lambda pk: selectors.dr_plan_get(public_id=pk),
            _plan_detail,
        ),
        Register(
            "audits",
            "Internal audits",
            "Quarterly control reviews, the annual audit and ad-hoc assessments.",
            selectors.audit_list,
            ("Audit", "Kind", "Period", "Lead", "Status", "Findings", "Open"),
            _audit_cells,
            lambda pk: selectors.audit_get(public_id=pk),
            _audit_detail,
        ),
        Register(
            "findings",
            "Audit findings",
            "What the internal audits found, each tracked to closure with a note.",
            selectors.finding_list,
            ("Finding", "Audit", "Severity", "Control", "Owner", "Due", "Closed"),
            _finding_cells,
            lambda pk: selectors.finding_get(public_id=pk),
            _finding_detail,
        ),
        Register(
            "walkthroughs",
            "Auditor walkthroughs",
            "Walkthrough sessions for the external auditor, per control.",
            selectors.walkthrough_list,
            ("Control", "Auditor", "Presenter", "Scheduled", "Status", "Held"),
            _walkthrough_cells,
            lambda pk: selectors.walkthrough_get(public_id=pk),
            _walkthrough_detail,
        ),
    )
}


# --- Views -------------------------------------------------------------------


def _require_view(request: HttpRequest) -> None:
    if not user_may(request.user, VIEW):
        raise PermissionDenied


def _auditor_view_record(request: HttpRequest, subject: str) -> None:
    """Record an auditor's look at a governance page as the evidence room
    records its own: the registers are evidence an auditor reads. A member's
    everyday reading of them is not an auditor's view and is not recorded."""
    if user_is_auditor(request.user):
        evidence_viewed_record(request.user, f"governance:{subject}", None)


def _register(slug: str) -> Register:
    register = REGISTERS.get(slug)
    if register is None:
        raise Http404("No such register.")
    return register


@login_required
def index(request: HttpRequest) -> HttpResponse:
    _require_view(request)
    results = []
    for fn in checks.ALL_CHECKS:
        result = fn()
        lines = [
            " ".join(filter(None, [str(f.get("title") or f.get("name") or ""), f["reason"]]))
            for f in result.failing
        ]
        results.append(
            {
                "name": fn.__name__.replace("_", " "),
                "doc": " ".join((fn.__doc__ or "").split("\n\n")[0].split()),
                "status": result.status,
                "failing": lines[:5],
                "more": max(len(lines) - 5, 0),
            }
        )
    context = {
        "registers": REGISTERS.values(),
        "checks": results,
        "heatmap": selectors.risk_heatmap_rows(),
        "kpi": selectors.finding_closure_kpi(),
    }
    _auditor_view_record(request, "index")
    return render(request, "governance/index.html", context)


@login_required
def register_list(request: HttpRequest, register: str) -> HttpResponse:
    _require_view(request)
    spec = _register(register)
    page = Paginator(spec.rows(), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {
            "url": reverse("governance-detail", args=[spec.slug, obj.public_id]),
            "cells": spec.cells(obj),
        }
        for obj in page.object_list
    ]
    context = {
        "register": spec,
        "registers": REGISTERS.values(),
        "rows": rows,
        "page": page,
        "heatmap": selectors.risk_heatmap_rows() if spec.slug == "risks" else None,
    }
    _auditor_view_record(request, spec.slug)
    return render(request, "governance/register_list.html", context)


@login_required
def register_detail(request: HttpRequest, register: str, public_id: Any) -> HttpResponse:
    _require_view(request)
    spec = _register(register)
    try:
        obj = spec.get(public_id)
    except ObjectDoesNotExist:
        raise Http404("No such entry.") from None
    context = {
        "register": spec,
        "object": obj,
        "title": str(obj),
        "actions": _actions(request, spec, obj),
        **spec.detail(obj),
    }
    _auditor_view_record(request, f"{spec.slug}:{obj.public_id}")
    return render(request, "governance/register_detail.html", context)


def _actions(request: HttpRequest, spec: Register, obj: Any) -> list[dict[str, str]]:
    """The buttons a detail page offers the signed-in person."""
    if spec.slug != "policies" or obj.current_version_id is None:
        return []
    acknowledged = models.PolicyAcknowledgement.objects.filter(
        version_id=obj.current_version_id, user_id=request.user.pk
    ).exists()
    if acknowledged:
        return []
    return [
        {
            "url": reverse("governance-policy-acknowledge", args=[obj.public_id]),
            "label": f"I have read and acknowledge version {obj.current_version.number}",
        }
    ]


@login_required
@require_POST
def policy_acknowledge(request: HttpRequest, public_id: Any) -> HttpResponse:
    """Acknowledge the current version of a policy as the signed-in member."""
    _require_view(request)
    policy = get_object_or_404(models.Policy, public_id=public_id)
    assert isinstance(request.user, User)
    try:
        services.policy_acknowledge(policy=policy, user=request.user)
    except APIException as refusal:
        messages.error(request, str(refusal.detail))
    else:
        messages.success(request, f"You acknowledged the {policy.title}.")
    return redirect("governance-detail", "policies", policy.public_id)
