"""The /governance/ pages: permission-checked, filled from the demo data,
and a constant number of queries whatever the rows."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import SecurityEvent
from compliance import models
from compliance.governance.views import REGISTERS
from tests.compliance import governance_factories as gf
from tests.compliance.governance_factories import UserFactory
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer_client(client: Client) -> Client:
    client.force_login(gf.member(role="auditor").user)
    return client


def _add_rows(index: int) -> None:
    """One more entry, with its related rows, in every register."""
    owner = UserFactory()
    policy = gf.policy_with_version(kind=list(models.Policy.Kind)[index].value, owner=owner)
    models.PolicyAcknowledgement.objects.create(version=policy.current_version, user=owner)
    module = gf.TrainingModuleFactory()
    module.roles.add(gf.member().role)
    models.TrainingAssignment.objects.create(
        module=module, user=owner, reason="manual", due_at=gf.days_ago(1)
    )
    vendor = gf.VendorFactory(owner=owner)
    models.VendorAssessment.objects.create(vendor=vendor, assessor=owner, risk_rating="low")
    models.VendorAgreement.objects.create(
        vendor=vendor,
        kind="contract",
        signed_on=timezone.now().date(),
        renewal_on=timezone.now().date() + dt.timedelta(days=9),
    )
    risk = gf.RiskFactory(owner=owner)
    risk.controls.set(models.Control.objects.filter(code__in=["CX-RSK-01", "CX-MON-01"]))
    change = gf.ChangeFactory(author=owner)
    models.Deployment.objects.create(change=change, deployed_at=gf.days_ago(1))
    plan = gf.PlanFactory(owner=owner)
    models.DisasterRecoveryTest.objects.create(
        plan=plan,
        kind="restore",
        performed_at=gf.days_ago(3),
        measured_rto_minutes=100,
        measured_rpo_minutes=20,
        conducted_by=owner,
    )
    models.EmergencyContact.objects.create(plan=plan, name="On call", role="SRE", phone="1")
    gf.FindingFactory(owner=owner, control=models.Control.objects.get(code="CX-ATH-01"))
    models.Walkthrough.objects.create(
        control=models.Control.objects.get(code="CX-ATH-01"),
        auditor_name="A. Auditor",
        presenter=owner,
        scheduled_at=gf.days_ago(0),
    )


def _count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


@pytest.mark.parametrize("slug", list(REGISTERS))
def test_register_list_runs_constant_queries(viewer_client: Client, slug: str) -> None:
    url = f"/governance/{slug}/"
    _add_rows(0)
    _count(viewer_client, url)  # warm the session and permission caches
    one_row = _count(viewer_client, url)
    for index in range(1, 5):
        _add_rows(index)
    five_rows = _count(viewer_client, url)

    assert five_rows == one_row
    page = viewer_client.get(url).content.decode()
    assert len(re.findall(rf'href="/governance/{slug}/[0-9a-f-]{{36}}/"', page)) == 5


@pytest.mark.parametrize("slug", list(REGISTERS))
def test_register_detail_runs_constant_queries(viewer_client: Client, slug: str) -> None:
    _add_rows(0)
    entry = REGISTERS[slug].rows().first()
    url = f"/governance/{slug}/{entry.public_id}/"
    _count(viewer_client, url)
    before = _count(viewer_client, url)
    for index in range(1, 4):
        _add_rows(index)
    assert _count(viewer_client, url) == before


def test_seeded_pages_show_every_register_with_its_gaps(
    viewer_client: Client, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path  # the seeded vendor reports land here
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_governance", stdout=io.StringIO())

    index = viewer_client.get("/governance/").content.decode()
    assert index.count('class="status-fail"') >= 5
    assert "Data retention policy last review older than 12 months" in index

    for slug, register in REGISTERS.items():
        page = viewer_client.get(f"/governance/{slug}/").content.decode()
        links = re.findall(rf'href="(/governance/{slug}/[0-9a-f-]{{36}}/)"', page)
        assert links, f"{slug} is empty after seeding"
        for link in links:
            assert viewer_client.get(link).status_code == 200, link
        assert register.title in page
    assert len(list((tmp_path / "governance" / "vendor-reports").iterdir())) == 3


def test_pages_hold_no_inline_script_or_style(viewer_client: Client) -> None:
    _add_rows(0)
    for url in ["/governance/"] + [f"/governance/{slug}/" for slug in REGISTERS]:
        page = viewer_client.get(url).content.decode()
        assert "<script" not in page and "<style" not in page and " style=" not in page


def test_pages_need_sign_in_and_the_operators_view_permission(client: Client) -> None:
    response = client.get("/governance/risks/")
    assert response.status_code == 302 and "/accounts/" in response["Location"]

    # A customer tenant's admin holds controls.view in their own tenant only.
    client.force_login(MembershipFactory(role=gf.builtin_role("admin"), user=UserFactory()).user)
    assert client.get("/governance/risks/").status_code == 403

    client.force_login(gf.member().user)
    assert client.get("/governance/risks/").status_code == 200


def test_unknown_register_and_entry_answer_404(viewer_client: Client) -> None:
    assert viewer_client.get("/governance/nothing/").status_code == 404
    missing = "00000000-0000-0000-0000-000000000000"
    assert viewer_client.get(f"/governance/risks/{missing}/").status_code == 404


def test_member_acknowledges_a_policy_from_its_page(client: Client) -> None:
    policy = gf.policy_with_version()
    person = gf.member()
    client.force_login(person.user)
    url = f"/governance/policies/{policy.public_id}/"
    action = f"/governance/policies/{policy.public_id}/acknowledge/"

    assert action in client.get(url).content.decode()
    assert client.get(action).status_code == 405
    response = client.post(action, follow=True)
    assert response.status_code == 200
    assert "You acknowledged the" in response.content.decode()
    assert action not in response.content.decode()
    assert (
        models.PolicyAcknowledgement.objects.filter(
            user=person.user, version=policy.current_version
        ).count()
        == 1
    )


def test_overview_page_runs_constant_queries(viewer_client: Client) -> None:
    _add_rows(0)
    _count(viewer_client, "/governance/")
    before = _count(viewer_client, "/governance/")
    for index in range(1, 4):
        _add_rows(index)
    assert _count(viewer_client, "/governance/") == before


def _viewed(user: Any) -> list[str]:
    return [
        event.detail["subject"]
        for event in SecurityEvent.objects.filter(
            event_type=SecurityEvent.Type.EVIDENCE_VIEWED, actor_id=user.pk
        ).order_by("pk")
    ]


def test_auditor_views_of_audits_and_findings_are_security_events(client: Client) -> None:
    finding = gf.FindingFactory(control=models.Control.objects.get(code="CX-ATH-01"))
    audit = finding.audit
    auditor = gf.member(role="auditor").user
    client.force_login(auditor)

    audit_page = client.get(f"/governance/audits/{audit.public_id}/")
    assert audit_page.status_code == 200
    # The audit's page links each finding to its own page.
    assert f'href="/governance/findings/{finding.public_id}/"' in audit_page.content.decode()
    assert client.get("/governance/audits/").status_code == 200
    finding_page = client.get(f"/governance/findings/{finding.public_id}/")
    assert finding_page.status_code == 200
    assert finding.title in finding_page.content.decode()

    assert _viewed(auditor) == [
        f"governance:audits:{audit.public_id}",
        "governance:audits",
        f"governance:findings:{finding.public_id}",
    ]


def test_a_members_or_admins_view_is_not_recorded_as_an_auditor_view(client: Client) -> None:
    finding = gf.FindingFactory()
    for role in ("member", "admin"):
        user = gf.member(role=role).user
        client.force_login(user)
        for url in (
            "/governance/audits/",
            f"/governance/audits/{finding.audit.public_id}/",
            "/governance/findings/",
            f"/governance/findings/{finding.public_id}/",
        ):
            assert client.get(url).status_code == 200, (role, url)
        assert _viewed(user) == [], role


def test_the_evidence_room_links_the_audit_findings(client: Client) -> None:
    finding = gf.FindingFactory()
    client.force_login(gf.member(role="auditor").user)

    room = client.get("/evidence/").content.decode()
    match = re.search(r'id="link-audit-findings" href="([^"]+)"', room)
    assert match is not None
    findings = client.get(match.group(1)).content.decode()
    assert f'href="/governance/findings/{finding.public_id}/"' in findings
