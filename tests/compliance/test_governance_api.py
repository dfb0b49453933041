"""The governance JSON API: paths without trailing slashes, in the schema,
JSON errors with stable codes, permission-checked."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import SecurityEvent
from compliance import models
from tests.compliance import governance_factories as gf
from tests.compliance.governance_factories import UserFactory
from tests.factories import MembershipFactory, OrganizationFactory, builtin_role

pytestmark = pytest.mark.django_db

BASE = "/api/compliance/governance"
DEPLOY = "/api/compliance/changes/deployments"

LISTS = [
    "policies",
    "training",
    "vendors",
    "disclosures",
    "risks",
    "changes",
    "continuity/plans",
    "audits",
    "walkthroughs",
]


def client_for(user: object) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def manager() -> models.Membership:
    return gf.member(role="admin")


@pytest.fixture
def approved_change(manager: models.Membership) -> models.ChangeRequest:
    change = gf.ChangeFactory()
    client_for(manager.user).post(f"{BASE}/changes/{change.public_id}/approve")
    change.refresh_from_db()
    assert change.status == models.ChangeRequest.Status.APPROVED
    return change


def test_every_path_is_in_the_schema_without_trailing_slash() -> None:
    client = APIClient()
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = set(schema["paths"])
    for name in LISTS:
        assert f"{BASE}/{name}" in paths
    assert DEPLOY in paths
    assert f"{BASE}/risks/heatmap" in paths
    assert f"{BASE}/audits/finding-closure" in paths
    assert f"{BASE}/changes/{{public_id}}/approve" in paths
    assert not [p for p in paths if p.startswith("/api/compliance/") and p.endswith("/")]


@pytest.mark.parametrize("name", LISTS)
def test_lists_need_the_view_permission(name: str) -> None:
    url = f"{BASE}/{name}"
    assert APIClient().get(url).json()["code"] == "not_authenticated"

    tenant_admin = MembershipFactory(role=gf.builtin_role("admin"), user=UserFactory()).user
    refused = client_for(tenant_admin).get(url)
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"

    assert client_for(gf.member(role="auditor").user).get(url).status_code == 200


def test_trailing_slash_is_a_json_404_not_a_redirect() -> None:
    response = client_for(gf.member().user).get(f"{BASE}/risks/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("name", ["policies", "vendors", "risks", "changes", "audits"])
def test_list_queries_stay_constant(name: str) -> None:
    client = client_for(gf.member(role="auditor").user)
    for index in range(2):
        _seed_row(index)
    client.get(f"{BASE}/{name}")
    with CaptureQueriesContext(connection) as few:
        assert client.get(f"{BASE}/{name}").status_code == 200
    for index in range(2, 6):
        _seed_row(index)
    with CaptureQueriesContext(connection) as many:
        body = client.get(f"{BASE}/{name}").json()
    assert len(many) == len(few)
    assert body["count"] == 6


def _seed_row(index: int) -> None:
    owner = UserFactory()
    gf.policy_with_version(kind=list(models.Policy.Kind)[index].value, owner=owner)
    vendor = gf.VendorFactory(owner=owner)
    models.VendorAssessment.objects.create(vendor=vendor, assessor=owner, risk_rating="low")
    gf.RiskFactory(owner=owner)
    gf.ChangeFactory(author=owner, approver=UserFactory())
    gf.FindingFactory(owner=owner)


def test_risk_heatmap_and_finding_kpi() -> None:
    gf.RiskFactory(likelihood=5, impact=5)
    gf.FindingFactory()
    client = client_for(gf.member().user)
    heatmap = client.get(f"{BASE}/risks/heatmap").json()
    assert heatmap["cells"][4][4] == 1 and heatmap["total"] == 1
    kpi = client.get(f"{BASE}/audits/finding-closure").json()
    assert kpi["open"] == 1 and kpi["closed"] == 0 and kpi["mean_days_to_close"] is None


def test_member_acknowledges_the_current_policy_version() -> None:
    policy = gf.policy_with_version()
    person = gf.member().user
    response = client_for(person).post(f"{BASE}/policies/{policy.public_id}/acknowledge")
    assert response.status_code == 201
    assert response.json()["policy_version"] == str(policy.current_version.public_id)
    assert models.PolicyAcknowledgement.objects.filter(user=person).count() == 1


def test_member_records_own_training_completion() -> None:
    module = gf.TrainingModuleFactory()
    person = gf.member().user
    response = client_for(person).post(
        f"{BASE}/training/{module.public_id}/complete", {"score": 90}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["user"]["id"] == str(person.public_id)
    future = (timezone.now() + dt.timedelta(days=2)).isoformat()
    refused = client_for(person).post(
        f"{BASE}/training/{module.public_id}/complete", {"completed_at": future}, format="json"
    )
    assert refused.status_code == 400 and refused.json()["code"] == "completed_in_future"


def test_change_created_then_approved_by_another_manager(manager: models.Membership) -> None:
    author = gf.member(role="admin").user
    created = client_for(author).post(
        f"{BASE}/changes", {"title": "Rotate keys", "risk": "medium"}, format="json"
    )
    assert created.status_code == 201
    change_id = created.json()["id"]
    assert created.json()["author"]["id"] == str(author.public_id)

    approved = client_for(manager.user).post(f"{BASE}/changes/{change_id}/approve")
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"


def test_change_author_approving_own_change_is_refused_with_stable_code(
    manager: models.Membership,
) -> None:
    author = manager.user
    change = gf.ChangeFactory(author=author)
    other = gf.ChangeFactory()

    # The same credential approves someone else's change ...
    assert client_for(author).post(f"{BASE}/changes/{other.public_id}/approve").status_code == 200
    # ... and is refused on its own.
    refused = client_for(author).post(f"{BASE}/changes/{change.public_id}/approve")
    assert refused.status_code == 403
    assert refused.json()["code"] == "self_approval_forbidden"
    change.refresh_from_db()
    assert change.status == models.ChangeRequest.Status.SUBMITTED


def test_policy_version_self_approval_is_refused(manager: models.Membership) -> None:
    policy = gf.PolicyFactory()
    own = models.PolicyVersion.objects.create(
        policy=policy, number=1, body="x", author=manager.user
    )
    theirs = models.PolicyVersion.objects.create(
        policy=gf.PolicyFactory(), number=1, body="y", author=UserFactory()
    )
    client = client_for(manager.user)
    assert client.post(f"{BASE}/policy-versions/{theirs.public_id}/approve").status_code == 200
    refused = client.post(f"{BASE}/policy-versions/{own.public_id}/approve")
    assert refused.status_code == 403 and refused.json()["code"] == "self_approval_forbidden"
    # The refusal's security event was committed, not rolled back.
    assert SecurityEvent.objects.filter(
        event_type=SecurityEvent.Type.PERMISSION_DENIED, detail__id=str(own.public_id)
    ).exists()


def test_pipeline_records_a_deployment_once(
    manager: models.Membership, approved_change: models.ChangeRequest
) -> None:
    client = client_for(manager.user)
    payload = {
        "change": str(approved_change.public_id),
        "commit": "0123abcd",
        "pipeline_run": "gh-run-42",
    }
    first = client.post(DEPLOY, payload, format="json")
    again = client.post(DEPLOY, payload, format="json")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert models.Deployment.objects.filter(change=approved_change).count() == 1


def test_deployment_of_an_unapproved_change_is_refused(manager: models.Membership) -> None:
    pending = gf.ChangeFactory()
    response = client_for(manager.user).post(
        DEPLOY, {"change": str(pending.public_id)}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "change_not_approved"
    assert models.Deployment.objects.count() == 0


def test_deployment_endpoint_needs_controls_manage(
    approved_change: models.ChangeRequest,
) -> None:
    payload = {"change": str(approved_change.public_id)}
    assert APIClient().post(DEPLOY, payload, format="json").status_code == 401
    member = gf.member(role="member").user  # controls.view only
    refused = client_for(member).post(DEPLOY, payload, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"

    # The staff flag alone gives nothing; an operator admin records it.
    staff = UserFactory(is_staff=True, is_superuser=True)
    assert client_for(staff).post(DEPLOY, payload, format="json").status_code == 403
    admin = gf.member(role="admin").user
    assert client_for(admin).post(DEPLOY, payload, format="json").status_code == 201


def _key_post(raw: str, payload: dict[str, str]) -> int:
    response = APIClient().post(DEPLOY, payload, format="json", HTTP_AUTHORIZATION=f"ApiKey {raw}")
    return response.status_code


def test_the_pipeline_records_a_deployment_with_a_scoped_operator_service_key(
    manager: models.Membership, approved_change: models.ChangeRequest
) -> None:
    from accounts.auth.apikeys import api_key_create, service_api_key_create

    operator = manager.organization
    payload = {"change": str(approved_change.public_id), "pipeline_run": "ci-7"}
    scoped = service_api_key_create(
        admin=manager.user, organization=operator, name="ci", scopes=["controls.manage"]
    )
    # The permitted case first: the scoped service key records, and the
    # record names the service account, not a person.
    assert _key_post(scoped.raw, payload) == 201
    deployment = models.Deployment.objects.get(pipeline_run="ci-7")
    assert deployment.recorded_by_id == scoped.key.user_id
    assert deployment.recorded_by.full_name == "Service: ci"

    # The same kind of key without the scope is refused...
    unscoped = service_api_key_create(
        admin=manager.user, organization=operator, name="reader", scopes=["controls.view"]
    )
    assert _key_post(unscoped.raw, {**payload, "pipeline_run": "ci-8"}) == 403
    # ...and so is a scoped service key of a customer organization.
    customer = OrganizationFactory()
    owner = MembershipFactory(organization=customer, role=builtin_role("owner")).user
    foreign = service_api_key_create(
        admin=owner, organization=customer, name="ci", scopes=["controls.manage"]
    )
    assert _key_post(foreign.raw, {**payload, "pipeline_run": "ci-9"}) == 403
    # A personal key needs the scope and the role: a member's is refused.
    member = gf.member(role="member").user
    personal = api_key_create(
        user=member,
        organization=operator,
        name="mine",
        scopes=["controls.manage"],
        created_by=member,
    )
    assert _key_post(personal.raw, {**payload, "pipeline_run": "ci-10"}) == 403
    assert set(models.Deployment.objects.values_list("pipeline_run", flat=True)) == {"ci-7"}


def test_deployment_endpoint_validates_its_input(manager: models.Membership) -> None:
    client = client_for(manager.user)
    response = client.post(DEPLOY, {"change": "not-a-uuid"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and "change" in response.json()["fields"]

    unknown = client.post(
        DEPLOY, {"change": "00000000-0000-0000-0000-000000000000"}, format="json"
    )
    assert unknown.status_code == 400 and "change" in unknown.json()["fields"]


def test_finding_closed_through_the_api(manager: models.Membership) -> None:
    finding = gf.FindingFactory()
    client = client_for(manager.user)
    url = f"{BASE}/findings/{finding.public_id}/close"
    assert client.post(url, {"note": ""}, format="json").json()["code"] == "closure_note_required"
    closed = client.post(url, {"note": "Rule fixed."}, format="json")
    assert closed.status_code == 200 and closed.json()["closed_at"]
    assert client.post(url, {"note": "again"}, format="json").json()["code"] == "already_closed"


def test_detail_endpoints_answer_json_404_for_unknown_ids() -> None:
    client = client_for(gf.member().user)
    missing = "00000000-0000-0000-0000-000000000000"
    for name in ("policies", "vendors", "risks", "changes"):
        response = client.get(f"{BASE}/{name}/{missing}")
        assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_vendor_detail_lists_reports_and_disclosures() -> None:
    vendor = gf.VendorFactory()
    models.DataDisclosure.objects.create(
        vendor=vendor, data_categories="e-mail", purpose="support", consent_reference="c-1"
    )
    body = client_for(gf.member().user).get(f"{BASE}/vendors/{vendor.public_id}").json()
    assert body["vendor"]["name"] == vendor.name
    assert body["disclosures"][0]["consent_reference"] == "c-1"


def test_customer_tenant_member_cannot_acknowledge_operator_policies() -> None:
    policy = gf.policy_with_version()
    url = f"{BASE}/policies/{policy.public_id}/acknowledge"
    assert client_for(gf.member().user).post(url).status_code == 201

    outsider = MembershipFactory(user=UserFactory()).user
    refused = client_for(outsider).post(url)
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"


def test_manager_registers_and_reviews_a_risk(manager: models.Membership) -> None:
    owner = UserFactory()
    client = client_for(manager.user)
    created = client.post(
        f"{BASE}/risks",
        {
            "title": "Backups in one region",
            "likelihood": 3,
            "impact": 5,
            "owner": str(owner.public_id),
            "controls": ["CX-BCK-01", "CX-RSK-01"],
        },
        format="json",
    )
    assert created.status_code == 201
    body = created.json()
    assert body["controls"] == ["CX-BCK-01", "CX-RSK-01"]
    risk = models.Risk.objects.get(public_id=body["id"])
    assert {c.code for c in risk.controls.all()} == {"CX-BCK-01", "CX-RSK-01"}
    assert body["score"] == 15 and body["is_high"] and body["treatment"] == ""
    assert body["last_reviewed_at"] is not None

    url = f"{BASE}/risks/{body['id']}/review"
    reviewed = client.post(
        url, {"treatment": "mitigate", "treatment_plan": "Copy to a second region."}, "json"
    )
    assert reviewed.status_code == 200 and reviewed.json()["treatment"] == "mitigate"
    # A review that names no controls keeps the links; one that does replaces them.
    assert reviewed.json()["controls"] == ["CX-BCK-01", "CX-RSK-01"]
    relinked = client.post(url, {"controls": ["CX-BCK-01"]}, "json")
    assert relinked.status_code == 200 and relinked.json()["controls"] == ["CX-BCK-01"]
    # The links are followed by the audit trail like any other field.
    from audit.models import AuditLogEntry

    entries = AuditLogEntry.objects.filter(object_pk=str(risk.pk))
    assert any("controls" in str(entry.changes) for entry in entries)
    from compliance.governance import checks

    assert checks.risks_high_treated_and_reviewed().status == "pass"


def test_risk_input_is_validated_field_by_field(manager: models.Membership) -> None:
    response = client_for(manager.user).post(
        f"{BASE}/risks",
        {
            "title": "x",
            "likelihood": 6,
            "impact": 0,
            "owner": str(UserFactory().public_id),
            # A criterion code is not a control, and neither is anything else.
            "controls": ["CC3.2", "drop table"],
        },
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"likelihood", "impact", "controls"}


def test_an_api_key_reaches_the_registers_only_within_its_scopes(
    manager: models.Membership,
) -> None:
    from accounts.auth.apikeys import api_key_create

    admin = manager.user
    risk = gf.RiskFactory()
    url = f"{BASE}/risks/{risk.public_id}/review"

    def key(*scopes: str) -> str:
        return api_key_create(
            user=admin,
            organization=manager.organization,
            name="-".join(scopes) or "none",
            scopes=list(scopes),
            created_by=admin,
        ).raw

    def call(raw: str, method: str, path: str) -> int:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"ApiKey {raw}")
        if method == "post":
            return client.post(path, {"treatment": "accept"}, format="json").status_code
        return client.get(path).status_code

    # The permitted cases first: the admin's key scoped to manage writes and
    # reads, one scoped to view reads.
    manage, view = key("controls.manage"), key("controls.view")
    assert call(manage, "post", url) == 200
    assert call(manage, "get", f"{BASE}/risks") == 200
    assert call(view, "get", f"{BASE}/risks") == 200
    # The same admin's key outside those scopes is refused, and a view key
    # does not write, although the admin's role would allow both.
    assert call(view, "post", url) == 403
    other = key("org.view")
    assert call(other, "get", f"{BASE}/risks") == 403
    assert call(other, "post", url) == 403


def test_risk_writes_need_controls_manage() -> None:
    member = gf.member(role="member").user
    risk = gf.RiskFactory()
    client = client_for(member)
    assert client.get(f"{BASE}/risks").status_code == 200
    payload = {"title": "x", "likelihood": 1, "impact": 1, "owner": str(member.public_id)}
    assert client.post(f"{BASE}/risks", payload, format="json").status_code == 403
    assert client.post(f"{BASE}/risks/{risk.public_id}/review", {}, "json").status_code == 403


def test_policy_review_and_vendor_assessment_through_the_api(
    manager: models.Membership,
) -> None:
    policy = gf.policy_with_version(reviewed_days_ago=400)
    vendor = gf.VendorFactory(review_cadence_days=30)
    from compliance.governance import checks

    assert checks.policies_reviewed_within_12_months().status == "fail"
    assert checks.vendors_assessed_within_cadence().status == "fail"

    client = client_for(manager.user)
    reviewed = client.post(f"{BASE}/policies/{policy.public_id}/review")
    assert reviewed.status_code == 200
    assessed = client.post(
        f"{BASE}/vendors/{vendor.public_id}/assessments",
        {"questionnaire": {"mfa_for_staff": "yes"}, "risk_rating": "high"},
        format="json",
    )
    assert assessed.status_code == 201
    assert assessed.json()["questionnaire"] == {"mfa_for_staff": "yes"}
    vendor.refresh_from_db()
    assert vendor.risk_rating == "high"
    assert checks.policies_reviewed_within_12_months().status == "pass"
    assert checks.vendors_assessed_within_cadence().status == "pass"
