"""Checks over who holds access: termination, owners, operator, privileged
grants, superusers, separation of duties, roles and access reviews."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Q

from accounts.models import Membership, Organization, Permission, Role, User, UserSession
from accounts.permissions import BUILTIN_ROLES, CATALOG
from compliance.checks.registry import (
    CheckContext,
    ModelMissing,
    Outcome,
    check,
    failed,
    judged,
    model_field_names,
    optional_model,
)
from compliance.policy import threshold

SAMPLE = 50


def _current_membership(now: object, prefix: str = "") -> Q:
    return Q(**{f"{prefix}status": Membership.Status.ACTIVE}) & (
        Q(**{f"{prefix}expires_at": None}) | Q(**{f"{prefix}expires_at__gt": now})
    )


@check("cc-terminated-no-access", controls=["CX-ACC-03"], weight=3)
def terminated_no_access(ctx: CheckContext) -> Outcome:
    """Terminated users hold no live session, refresh token or API key."""
    terminated = User.objects.exclude(terminated_at=None)
    failing: list[str] = []
    evidence: dict[str, object] = {}

    sessions = UserSession.objects.filter(user__in=terminated, expire_date__gt=ctx.now)
    evidence["live_sessions"] = sessions.count()
    failing += [
        f"session of user {u}"
        for u in sessions.values_list("user__public_id", flat=True).distinct()[:SAMPLE]
    ]

    # Tokens and keys are checked where their models exist; until then the
    # evidence says which credential kinds could not be looked at.
    not_built = []
    for labels, kind, live in (
        (("accounts.TokenFamily",), "refresh token family", Q(revoked_at=None)),
        (("accounts.ApiKey", "accounts.APIKey"), "API key", Q(revoked_at=None)),
    ):
        try:
            model = optional_model(*labels)
        except ModelMissing:
            not_built.append(kind)
            continue
        rows = model._default_manager.filter(live, user__in=terminated)
        evidence[f"live_{kind.replace(' ', '_')}s"] = rows.count()
        failing += [
            f"{kind} of user {u}"
            for u in rows.values_list("user__public_id", flat=True).distinct()[:SAMPLE]
        ]
    evidence["credential_kinds_not_built"] = not_built
    return judged(
        not failing,
        "terminated users hold no live credential",
        "terminated users still hold live credentials",
        failing,
        **evidence,
    )


@check("cc-terminated-deactivated", controls=["CX-ACC-03"], weight=2)
def terminated_deactivated(ctx: CheckContext) -> Outcome:
    """Terminated users are inactive and hold no current membership."""
    active_membership = Membership.objects.filter(
        _current_membership(ctx.now), user=OuterRef("pk")
    )
    offenders = (
        User.objects.exclude(terminated_at=None)
        .filter(Q(is_active=True) | Q(Exists(active_membership)))
        .order_by("pk")
    )
    count = offenders.count()
    sample = offenders.values_list("public_id", flat=True)[:SAMPLE]
    return judged(
        count == 0,
        "every terminated user is inactive with no membership",
        f"{count} terminated user(s) still active or a member",
        [f"user {pk}" for pk in sample],
    )


@check("cc-org-owner", controls=["CX-ORG-01"], weight=2)
def organizations_have_owner(ctx: CheckContext) -> Outcome:
    """Every organization keeps at least one current, active owner."""
    owners = Count(
        "memberships",
        filter=_current_membership(ctx.now, "memberships__")
        & Q(memberships__role__kind=Role.Kind.OWNER)
        & Q(memberships__user__is_active=True, memberships__user__terminated_at=None),
    )
    orphans = Organization.objects.annotate(owners=owners).filter(owners=0).order_by("slug")
    count = orphans.count()
    total = Organization.objects.count()
    return judged(
        count == 0,
        f"all {total} organizations have an active owner",
        f"{count} organization(s) without an active owner",
        list(orphans.values_list("slug", flat=True)[:SAMPLE]),
        organizations=total,
    )


@check("cc-operator-org", controls=["CX-ORG-01"], weight=2)
def operator_organization(ctx: CheckContext) -> Outcome:
    """The operator organization exists under its configured slug."""
    slug = settings.OPERATOR_ORGANIZATION_SLUG
    operators = list(Organization.objects.filter(is_operator=True).values_list("slug", flat=True))
    return judged(
        operators == [slug],
        f"the operator organization is {slug}",
        "the operator organization is missing or misnamed",
        operators or [slug],
        expected=slug,
        found=operators,
    )


@check("cc-expired-grants", controls=["CX-ACC-04"], weight=2)
def expired_grants(ctx: CheckContext) -> Outcome:
    """No membership past its end date is still marked active."""
    expired = Membership.objects.filter(
        status=Membership.Status.ACTIVE, expires_at__lte=ctx.now
    ).order_by("pk")
    count = expired.count()
    sample = expired.values_list("public_id", "role__kind")[:SAMPLE]
    return judged(
        count == 0,
        "no expired membership is still active",
        f"{count} membership(s) past their end date still active",
        [f"membership {pk} ({kind})" for pk, kind in sample],
    )


@check("cc-staff-in-operator", controls=["CX-ORG-01", "CX-ACC-04"])
def staff_in_operator(ctx: CheckContext) -> Outcome:
    """Every staff account is a current member of the operator organization."""
    in_operator = Membership.objects.filter(
        _current_membership(ctx.now), user=OuterRef("pk"), organization__is_operator=True
    )
    outsiders = (
        User.objects.filter(is_staff=True, is_active=True, terminated_at=None)
        .exclude(Exists(in_operator))
        .order_by("pk")
    )
    count = outsiders.count()
    return judged(
        count == 0,
        "every staff account belongs to the operator organization",
        f"{count} staff account(s) outside the operator organization",
        [f"user {pk}" for pk in outsiders.values_list("public_id", flat=True)[:SAMPLE]],
    )


@check("cc-superusers-limited", controls=["CX-ACC-04"])
def superusers_limited(ctx: CheckContext) -> Outcome:
    """Superuser accounts are few and belong to active staff."""
    limit = threshold("max_superusers")
    superusers = User.objects.filter(is_superuser=True, is_active=True)
    count = superusers.count()
    improper = list(
        superusers.filter(Q(is_staff=False) | ~Q(terminated_at=None)).values_list(
            "public_id", flat=True
        )[:SAMPLE]
    )
    failing = [f"user {pk} is superuser without staff status" for pk in improper]
    if count > limit:
        failing.append(f"{count} superusers, policy allows {limit}")
    return judged(
        not failing,
        f"{count} superuser(s), within the policy's {limit}",
        "superuser accounts exceed policy",
        failing,
        count=count,
        limit=limit,
    )


@check("cc-auditor-separation", controls=["CX-AUD-02"], weight=2)
def auditor_separation(ctx: CheckContext) -> Outcome:
    """External auditors hold no administrative power anywhere."""
    auditors = Membership.objects.filter(
        _current_membership(ctx.now), role__kind=Role.Kind.AUDITOR
    ).values("user_id")
    privileged = Membership.objects.filter(
        _current_membership(ctx.now),
        user=OuterRef("pk"),
        role__kind__in=(Role.Kind.OWNER, Role.Kind.ADMIN),
    )
    offenders = (
        User.objects.filter(pk__in=auditors)
        .filter(Q(is_staff=True) | Q(is_superuser=True) | Q(Exists(privileged)))
        .order_by("pk")
    )
    count = offenders.count()
    return judged(
        count == 0,
        "no auditor holds staff, superuser, owner or admin rights",
        f"{count} auditor(s) also hold administrative rights",
        [f"user {pk}" for pk in offenders.values_list("public_id", flat=True)[:SAMPLE]],
    )


@check("cc-roles-from-catalog", controls=["CX-ORG-02"])
def roles_from_catalog(ctx: CheckContext) -> Outcome:
    """Roles hold only catalog permissions, and built-in roles hold exactly theirs."""
    unknown = list(
        Permission.objects.exclude(code__in=list(CATALOG)).values_list("code", flat=True)
    )
    failing = [f"permission {code} is not in the catalog" for code in unknown]
    held: dict[str, set[str]] = {}
    for name, code in Role.objects.filter(organization=None).values_list(
        "name", "permissions__code"
    ):
        held.setdefault(name, set())
        if code:
            held[name].add(code)
    for name, _kind, _parent, own in BUILTIN_ROLES:
        if name not in held:
            failing.append(f"built-in role {name} is missing")
        elif held[name] != set(own):
            extra = sorted(held[name] - set(own))
            lacking = sorted(set(own) - held[name])
            failing.append(f"built-in role {name} differs: extra {extra}, missing {lacking}")
    return judged(
        not failing,
        "roles match the permission catalog",
        "roles drift from the permission catalog",
        failing,
    )


@check("cc-access-review", controls=["CX-ACC-04"], weight=2)
def access_review(ctx: CheckContext) -> Outcome:
    """The last access-review campaign completed within its quarter."""
    campaign = optional_model(
        "accounts.AccessReviewCampaign", "accounts.AccessReview", "accounts.ReviewCampaign"
    )
    fields = model_field_names(campaign)
    completed_field = next((f for f in ("completed_at", "closed_at") if f in fields), None)
    if completed_field is None:
        return failed("the campaign model records no completion time", [campaign._meta.label])
    quarter = timedelta(days=92)
    last = (
        campaign._default_manager.exclude(**{completed_field: None})
        .order_by(f"-{completed_field}")
        .values_list("pk", completed_field)
        .first()
    )
    if last is None:
        return failed("no access-review campaign has ever completed", ["access reviews"])
    age = ctx.now - last[1]
    return judged(
        age <= quarter,
        f"campaign {last[0]} completed {age.days} days ago",
        f"the last completed campaign is {age.days} days old (limit 92)",
        [f"campaign {last[0]}"],
        completed_at=last[1].isoformat(),
    )


@check("cc-four-eyes", controls=["CX-AUD-02"])
def four_eyes(ctx: CheckContext) -> Outcome:
    """No critical operation was approved by the person who requested it."""
    approval = optional_model("accounts.ApprovalRequest", "accounts.Approval")
    fields = model_field_names(approval)
    requester = next((f for f in ("requested_by", "requester") if f in fields), None)
    approver = next((f for f in ("decided_by", "approved_by", "approver") if f in fields), None)
    if requester is None or approver is None:
        return failed(
            "the approval model has no requester and approver this check knows",
            [approval._meta.label],
        )
    self_approved = approval._default_manager.filter(**{approver: F(requester)})
    # The table refuses a self-approval; an operation carried out with no
    # second person's decision at all is the other way round the control.
    undecided = approval._default_manager.none()
    if "executed_at" in fields:
        undecided = approval._default_manager.exclude(executed_at=None).filter(
            **{f"{approver}__isnull": True}
        )
    rows = [f"approval {pk} self-approved" for pk in self_approved.values_list("pk", flat=True)]
    rows += [f"approval {pk} executed undecided" for pk in undecided.values_list("pk", flat=True)]
    return judged(
        not rows,
        "every approved operation was decided by a second person",
        f"{len(rows)} operation(s) went ahead without a second person's approval",
        rows[:SAMPLE],
    )
