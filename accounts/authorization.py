"""The one authorization service: pages, the API, Django admin and tasks all
ask ``user_has_perm``.

A permission is held in an organization when the user is in good standing
(active, not terminated), has a current membership there (status active and
not past ``expires_at``, evaluated at every check so an expired auditor loses
access on the very next request), and the membership's role holds the code,
its own or inherited through ``Role.parent``. Failing that, an
``ObjectPermissionGrant`` may give the code on one object, to the membership
or to its role (or an ancestor of it).

Each catalog code is a rule of a ``rules`` rule set, so rules compose as
predicates (``holds("access_reviews.manage") & ~is_review_subject``) and a
later issue can tighten one code with ``access_rule_set``. ``rules`` has no
notion of an organization and caches nothing, so the role graph, membership
state and grants are resolved here, once per request per user, and handed to
the predicates as an ``AccessTarget``.
"""

from __future__ import annotations

import functools
import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import rules
from django.conf import settings
from django.contrib.auth import load_backend
from django.contrib.auth.backends import BaseBackend
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Q, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import (
    Membership,
    ObjectPermissionGrant,
    Organization,
    Role,
    RoleGraphStamp,
    User,
)
from accounts.permissions import AUDITOR, CATALOG
from cloudexpress import requestcontext
from cloudexpress.api.exceptions import ServiceError

logger = logging.getLogger(__name__)

PRIVILEGED_KINDS = frozenset({Role.Kind.OWNER, Role.Kind.ADMIN, Role.Kind.AUDITOR})
# Auditors read: whatever a grant says, they never pass a check for a code
# outside the auditor set.
READ_ONLY_KINDS = frozenset({Role.Kind.AUDITOR})

_CACHE_ATTRIBUTE = "_cx_access"


# --- Role graph -------------------------------------------------------------


def role_chain(role_id: int, roles_by_id: dict[int, Any]) -> tuple[int, ...]:
    """Return the role and its ancestors, nearest first; stop at a cycle."""
    chain: list[int] = []
    current: int | None = role_id
    while current is not None and current not in chain and current in roles_by_id:
        chain.append(current)
        current = roles_by_id[current].parent_id
    return tuple(chain)


@dataclass(frozen=True)
class RoleNode:
    """What a check needs of a role: its parent, its kind and its own codes."""

    parent_id: int | None
    kind: str
    codes: frozenset[str]


def _own_codes(role: Role | RoleNode) -> frozenset[str]:
    if isinstance(role, RoleNode):
        return role.codes
    return frozenset(p.code for p in role.permissions.all())


def role_codes(role_id: int, roles_by_id: dict[int, Any]) -> frozenset[str]:
    """Every code a role holds: its own and its ancestors'."""
    codes: set[str] = set()
    for ancestor in role_chain(role_id, roles_by_id):
        codes |= _own_codes(roles_by_id[ancestor])
    return frozenset(codes)


def roles_load(organization_ids: Iterable[int]) -> dict[int, Role]:
    """Load the built-in roles and the custom roles of some organizations,
    with their permissions, in two queries."""
    queryset = Role.objects.filter(
        Q(organization__isnull=True) | Q(organization_id__in=list(organization_ids))
    ).prefetch_related("permissions")
    return {role.pk: role for role in queryset}


def _stamp_token() -> Subquery:
    return Subquery(RoleGraphStamp.objects.filter(pk=1).values("token")[:1])


def role_graph_load(organization_ids: Iterable[int]) -> tuple[dict[int, RoleNode], str | None]:
    """The built-in roles and the custom roles of some organizations, with
    their own codes, in one query of plain rows (no model objects), and the
    role graph stamp's token read in the same statement, so the graph is
    exactly the state that token names."""
    rows = (
        Role.objects.filter(
            Q(organization__isnull=True) | Q(organization_id__in=list(organization_ids))
        )
        .annotate(stamp=_stamp_token())
        .values_list("id", "parent_id", "kind", "permissions__code", "stamp")
    )
    heads: dict[int, tuple[int | None, str]] = {}
    codes: dict[int, set[str]] = {}
    token = None
    for role_id, parent_id, kind, code, stamp in rows:
        token = stamp
        heads[role_id] = (parent_id, kind)
        own = codes.setdefault(role_id, set())
        if code is not None:
            own.add(code)
    graph = {
        role_id: RoleNode(parent_id, kind, frozenset(codes[role_id]))
        for role_id, (parent_id, kind) in heads.items()
    }
    return graph, token


# Role graphs by (stamp token, organizations), shared by the requests of a
# process. A write to a role, its permissions or the catalog gives the stamp a
# new token (by database trigger), so an entry is never used after one: the
# membership query of each request reads the current token.
_GRAPHS_KEPT = 256
_graphs: OrderedDict[tuple[str, tuple[int, ...]], dict[int, RoleNode]] = OrderedDict()
_graphs_lock = threading.Lock()


def role_graph_current(organization_ids: Iterable[int], token: str | None) -> dict[int, RoleNode]:
    """The role graph for these organizations as of ``token``: from memory
    when this process loaded it under that token, otherwise from the
    database (one query)."""
    organizations = tuple(sorted(set(organization_ids)))
    if token is not None:
        with _graphs_lock:
            graph = _graphs.get((token, organizations))
            if graph is not None:
                _graphs.move_to_end((token, organizations))
                return graph
    graph, loaded = role_graph_load(organizations)
    if loaded is not None:
        with _graphs_lock:
            _graphs[(loaded, organizations)] = graph
            while len(_graphs) > _GRAPHS_KEPT:
                _graphs.popitem(last=False)
    return graph


def role_graph_stamp_renew(*, using: str = DEFAULT_DB_ALIAS) -> None:
    """Give the stamp a token no process has seen, for the writes the
    triggers cannot vouch for: a stamp row written back by ``loaddata`` (its
    token may name another graph than the fixture's roles), or a migration
    that ran while a table rebuild had dropped the triggers."""
    stamps = RoleGraphStamp.objects.using(using)
    token = secrets.token_hex(16)
    if not stamps.filter(pk=1).update(token=token):
        stamps.create(pk=1, token=token)


def role_graph_triggers_ensure(*, using: str = DEFAULT_DB_ALIAS) -> None:
    """Install any missing stamp trigger, then renew the token.

    Run after every ``migrate``: on SQLite, altering a column remakes its
    table and the triggers on it are dropped with the old one, and whatever
    the migration wrote meanwhile changed no token."""
    from cloudexpress.dbvendor import ROLE_GRAPH_TABLES, role_graph_stamp_triggers

    connection = connections[using]
    needed = {RoleGraphStamp._meta.db_table, *ROLE_GRAPH_TABLES}
    if not needed <= set(connection.introspection.table_names()):
        return  # migrated back to before the stamp existed
    install, _remove = role_graph_stamp_triggers(connection.vendor)
    with connection.cursor() as cursor:
        for statement in install:
            cursor.execute(statement)
    role_graph_stamp_renew(using=using)


# --- Per-request snapshot ----------------------------------------------------


@dataclass
class _Access:
    memberships: dict[int, Membership]
    roles_by_id: dict[int, RoleNode]
    operator_id: int | None
    # The request (or task run) this snapshot belongs to.
    scope: str | None
    codes_by_role: dict[int, frozenset[str]] = field(default_factory=dict)

    def codes(self, role_id: int) -> frozenset[str]:
        if role_id not in self.codes_by_role:
            self.codes_by_role[role_id] = role_codes(role_id, self.roles_by_id)
        return self.codes_by_role[role_id]


def _access(user: User) -> _Access:
    """The user's memberships and roles, loaded once per request (or task
    run) and kept on the user object for the rest of it. Outside any request
    context nothing is kept, so a long-lived object never sees stale access."""
    scope = requestcontext.current_request_id()
    cached = getattr(user, _CACHE_ATTRIBUTE, None)
    if cached is not None and scope is not None and cached.scope == scope:
        return cast(_Access, cached)
    memberships: dict[int, Membership] = {
        m.organization_id: m
        for m in Membership.objects.filter(user=user, status=Membership.Status.ACTIVE)
        .select_related("organization")
        .only(
            "id",
            "user_id",
            "organization_id",
            "role_id",
            "status",
            "expires_at",
            "organization__is_operator",
        )
        .annotate(graph_token=_stamp_token())
    }
    operator_id = next(
        (m.organization_id for m in memberships.values() if m.organization.is_operator), None
    )
    # Without a membership no role is ever looked up.
    graph: dict[int, RoleNode] = {}
    if memberships:
        token = getattr(next(iter(memberships.values())), "graph_token", None)
        graph = role_graph_current(memberships, token)
    access = _Access(memberships, graph, operator_id, scope)
    if scope is not None:
        setattr(user, _CACHE_ATTRIBUTE, access)
    return access


def access_cache_clear(user: Any) -> None:
    """Forget what this user object learnt about its access (after a change
    made in the same request)."""
    if hasattr(user, _CACHE_ATTRIBUTE):
        delattr(user, _CACHE_ATTRIBUTE)


def membership_current(user: Any, organization: Organization | int) -> Membership | None:
    """The user's membership there if it grants access right now."""
    if not _in_good_standing(user):
        return None
    organization_id = getattr(organization, "pk", organization)
    membership = _access(user).memberships.get(cast(int, organization_id))
    if membership is None or not membership.is_current(timezone.now()):
        return None
    return membership


def user_permissions(user: Any, organization: Organization | int) -> frozenset[str]:
    """Every code the user holds by role in an organization, right now."""
    membership = membership_current(user, organization)
    if membership is None:
        return frozenset()
    return _access(user).codes(membership.role_id)


def user_is_auditor(user: Any, organization: Organization | int | None = None) -> bool:
    """Whether the user reads as an auditor right now: a current membership
    whose role is of a read-only kind, in ``organization`` or, when none is
    named, in any. Asks nothing the request's access snapshot does not
    already hold."""
    if not _in_good_standing(user):
        return False
    access = _access(user)
    if organization is None:
        candidates = list(access.memberships)
    else:
        candidates = [cast(int, getattr(organization, "pk", organization))]
    for organization_id in candidates:
        membership = membership_current(user, organization_id)
        role = access.roles_by_id.get(membership.role_id) if membership else None
        if role is not None and role.kind in READ_ONLY_KINDS:
            return True
    return False


def access_snapshot_loaded(user: Any) -> bool:
    """Whether this request already loaded the user's access, that is,
    whether anything in it asked for a permission."""
    scope = requestcontext.current_request_id()
    cached = getattr(user, _CACHE_ATTRIBUTE, None)
    return cached is not None and scope is not None and cached.scope == scope


def _in_good_standing(user: Any) -> bool:
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and user.terminated_at is None
    )


# --- Predicates (rules) ------------------------------------------------------


@dataclass(frozen=True)
class AccessTarget:
    """What a rule is asked about: an organization, and maybe one object."""

    organization_id: int | None
    obj: Any = None


@rules.predicate
def is_in_good_standing(user: Any) -> bool:
    return _in_good_standing(user)


def holds(code: str) -> rules.Predicate:
    """A predicate true when the user holds ``code`` for the target, by role
    or by a grant on the target's object."""

    def check(user: Any, target: AccessTarget) -> bool:
        if target is None or target.organization_id is None:
            return False
        membership = membership_current(user, target.organization_id)
        if membership is None:
            return False
        access = _access(user)
        role = access.roles_by_id.get(membership.role_id)
        if role is not None and role.kind in READ_ONLY_KINDS and code not in AUDITOR:
            return False
        if code in access.codes(membership.role_id):
            return True
        if target.obj is None or isinstance(target.obj, Organization):
            return False
        return _granted_on_object(membership, code, target.obj, access)

    return rules.predicate(check, name=f"holds:{code}")


@rules.predicate
def is_review_subject(user: Any, target: AccessTarget) -> bool:
    """True when the target is an access-review item about the user."""
    from accounts.models import AccessReviewItem

    obj = target.obj if target is not None else None
    return isinstance(obj, AccessReviewItem) and obj.membership.user_id == user.pk


def _granted_on_object(membership: Membership, code: str, obj: Any, access: _Access) -> bool:
    content_type = ContentType.objects.get_for_model(obj)
    chain = role_chain(membership.role_id, access.roles_by_id)
    return ObjectPermissionGrant.objects.filter(
        Q(membership_id=membership.pk) | Q(role_id__in=chain),
        organization_id=membership.organization_id,
        permission__code=code,
        content_type=content_type,
        object_id=str(obj.pk),
    ).exists()


ACCESS_RULES = rules.RuleSet()
for _code in CATALOG:
    ACCESS_RULES.add_rule(_code, is_in_good_standing & holds(_code))
# Deciding an access-review item: manage reviews, and never about oneself.
ACCESS_RULES.add_rule(
    "access_reviews.decide",
    is_in_good_standing & holds("access_reviews.manage") & ~is_review_subject,
)


def access_rule_set(code: str, predicate: rules.Predicate) -> None:
    """Replace the rule of one code, for a later issue that tightens it."""
    ACCESS_RULES.set_rule(code, predicate)


# --- The service -------------------------------------------------------------


def _organization_id(organization: Organization | int | None, obj: Any) -> int | None:
    if organization is not None:
        return cast(int, getattr(organization, "pk", organization))
    if isinstance(obj, Organization):
        return obj.pk
    if obj is not None and getattr(obj, "organization_id", None) is not None:
        return cast(int, obj.organization_id)
    return None


def user_has_perm(
    user: Any,
    code: str,
    organization: Organization | int | None = None,
    obj: Any = None,
    *,
    record_denial: bool = True,
) -> bool:
    """Return whether ``user`` holds ``code`` in ``organization`` (or in the
    object's organization, or, with neither, in the operator organization),
    recording a ``access.permission_denied`` security event when not."""
    if code not in ACCESS_RULES:
        logger.warning("authorization.unknown_permission", extra={"permission": code})
        return False
    organization_id = _organization_id(organization, obj)
    if organization_id is None and _in_good_standing(user):
        organization_id = _access(user).operator_id
    allowed = bool(ACCESS_RULES.test_rule(code, user, AccessTarget(organization_id, obj)))
    if not allowed and record_denial:
        permission_denied_record(user, code, organization_id, obj)
    return allowed


def permission_denied_record(
    user: Any, code: str, organization_id: int | None, obj: Any = None
) -> None:
    from audit.services import security_event_record

    detail: dict[str, Any] = {"permission": code}
    if obj is not None:
        detail["object"] = f"{obj._meta.label_lower}:{getattr(obj, 'public_id', obj.pk)}"
    authenticated = getattr(user, "is_authenticated", False)
    security_event_record(
        event_type="access.permission_denied",
        actor=user if authenticated else None,
        organization=organization_id,
        detail=detail,
    )
    logger.info("authorization.denied", extra={"permission": code})


def permission_require(
    user: Any, code: str, organization: Organization | int | None = None, obj: Any = None
) -> None:
    """Raise a 403 ``ServiceError`` unless the user holds the permission."""
    if not user_has_perm(user, code, organization, obj):
        raise ServiceError(
            f"You do not hold the permission {code!r} here.",
            code="permission_denied",
            status_code=403,
        )


# --- Django admin, through an authentication backend -------------------------

# Model permission ("accounts.change_role") -> catalog code, per action.
_READ = "org.view"
ADMIN_PERMISSION_MAP: dict[tuple[str, str], dict[str, str]] = {
    ("accounts", "user"): {"view": _READ, "*": "members.manage"},
    ("accounts", "membership"): {"view": _READ, "*": "members.manage"},
    ("accounts", "organization"): {"view": _READ, "delete": "org.delete", "*": "settings.manage"},
    ("accounts", "role"): {"view": _READ, "*": "roles.manage"},
    ("accounts", "permission"): {"view": _READ, "*": "roles.manage"},
    ("accounts", "objectpermissiongrant"): {"view": _READ, "*": "roles.manage"},
    ("accounts", "invitation"): {"view": _READ, "*": "members.invite"},
    ("accounts", "approvalrequest"): {"view": "approvals.decide", "*": "approvals.decide"},
    ("accounts", "accessreviewcampaign"): {"view": _READ, "*": "access_reviews.manage"},
    ("accounts", "accessreviewitem"): {"view": _READ, "*": "access_reviews.manage"},
    ("accounts", "usersession"): {"view": "security_events.view", "*": "members.manage"},
}
# Any model nobody mapped: reading needs org.view, writing settings.manage.
_DEFAULT_ADMIN_MAP = {"view": _READ, "*": "settings.manage"}


def admin_permission_map_register(app_label: str, model: str, actions: dict[str, str]) -> None:
    """Say which catalog code each admin action on a model needs."""
    ADMIN_PERMISSION_MAP[(app_label, model)] = actions


def _catalog_code_for(perm: str) -> str | None:
    if perm in ACCESS_RULES:
        return perm
    app_label, _, codename = perm.partition(".")
    action, _, model = codename.partition("_")
    if not app_label or not model:
        return None
    actions = ADMIN_PERMISSION_MAP.get((app_label, model), _DEFAULT_ADMIN_MAP)
    return actions.get(action) or actions.get("*")


class AuthorizationBackend(BaseBackend):
    """Answers every ``has_perm`` from the authorization service; never
    authenticates. Model permissions are checked in the operator
    organization, where the people who run Django admin are members."""

    def authenticate(self, request: HttpRequest | None, **credentials: Any) -> None:
        return None

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        code = _catalog_code_for(perm)
        if code is None:
            return False
        # Admin asks has_perm for every model and button while it renders a
        # page; those probes are not attempts, so they record nothing.
        return user_has_perm(user_obj, code, obj=obj, record_denial=False)

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return user_has_perm(user_obj, _READ, record_denial=False)

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not _in_good_standing(user_obj):
            return set()
        operator_id = _access(user_obj).operator_id
        return set(user_permissions(user_obj, operator_id)) if operator_id else set()


BACKEND_PATH = "accounts.authorization.AuthorizationBackend"


@functools.cache
def authorization_backend() -> AuthorizationBackend:
    if BACKEND_PATH not in settings.AUTHENTICATION_BACKENDS:
        raise ImproperlyConfigured(f"{BACKEND_PATH} must be in AUTHENTICATION_BACKENDS")
    return cast(AuthorizationBackend, load_backend(BACKEND_PATH))


# --- API and pages -----------------------------------------------------------


def _view_organization(view: Any, request: Any) -> Organization | None:
    getter = getattr(view, "get_organization", None)
    return cast(Organization | None, getter() if getter else None)


def HasPermission(code: str) -> type[BasePermission]:
    """A DRF permission class requiring ``code`` in the view's organization
    (``view.get_organization()``) or, for object views, on the object."""

    class _HasPermission(BasePermission):
        message = f"You do not hold the permission {code!r} here."
        permission_code = code

        def has_permission(self, request: Request, view: Any) -> bool:
            return user_has_perm(request.user, code, _view_organization(view, request))

        def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
            return user_has_perm(request.user, code, _view_organization(view, request), obj)

    _HasPermission.__name__ = f"HasPermission[{code}]"
    return _HasPermission


_View = TypeVar("_View", bound=Callable[..., HttpResponse])


def organization_for_request(request: HttpRequest, slug: str) -> Organization:
    """The organization a page names, if the user belongs to it; 404 otherwise,
    so a page never confirms that an organization exists."""
    organization = get_object_or_404(Organization, slug=slug)
    if membership_current(request.user, organization) is None:
        permission_denied_record(request.user, "org.view", organization.pk)
        raise Http404("No such organization.")
    return organization


def permission_required(code: str) -> Callable[[_View], _View]:
    """Decorate a page view taking ``slug``: resolve the organization into
    ``request.organization`` and require ``code`` there (403 otherwise)."""

    def decorator(view: _View) -> _View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                from django.contrib.auth.views import redirect_to_login

                return redirect_to_login(request.get_full_path())
            organization = organization_for_request(request, slug)
            if not user_has_perm(request.user, code, organization):
                raise PermissionDenied(f"You do not hold the permission {code!r} here.")
            request.organization = organization  # type: ignore[attr-defined]
            return view(request, slug, *args, **kwargs)

        return cast(_View, wrapper)

    return decorator


class PermissionRequiredMixin:
    """For class-based pages taking ``slug``: resolve the organization into
    ``self.organization`` and require ``permission_code`` there."""

    permission_code: str = "org.view"
    organization: Organization

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            from django.contrib.auth.views import redirect_to_login

            return redirect_to_login(request.get_full_path())
        self.organization = organization_for_request(request, kwargs["slug"])
        if not user_has_perm(request.user, self.permission_code, self.organization):
            raise PermissionDenied(f"You do not hold the permission {self.permission_code!r}.")
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
