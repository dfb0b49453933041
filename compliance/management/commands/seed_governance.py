"""Fill every governance register with demo data: idempotent, so every
`make run` may call it. Some entries fail on purpose, so the demo shows
gaps (a stale policy review, a lapsed DPA, an expired vendor report, an
untreated high risk, a hotfix deployed without a change, an overdue
finding)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from cloudexpress import requestcontext
from compliance import models
from compliance.catalog import catalog_ensure
from compliance.governance import selectors, services
from compliance.privacy.consent import consent_purpose_publish

OFFICER = "officer@cloudexpress.test"
OWNER = "owner@cloudexpress.test"
SECURITY = "security@cloudexpress.test"
MEMBER = "member@cloudexpress.test"

# kind, title, owner, days since the last review (None: approved today)
POLICIES = (
    ("password", "Password policy", SECURITY, 40),
    ("access_control", "Access control policy", SECURITY, 60),
    ("data_classification", "Data classification policy", OFFICER, 90),
    ("incident_response", "Incident response policy", SECURITY, 30),
    ("acceptable_use", "Acceptable use policy", OFFICER, 120),
    ("encryption", "Encryption policy", SECURITY, 75),
    ("change_management", "Change management policy", OWNER, 150),
    ("business_continuity", "Business continuity policy", OWNER, 200),
    ("vendor_management", "Vendor management policy", OFFICER, 100),
    ("privacy", "Privacy policy", OFFICER, 20),
    # Past 12 months: fails the review check.
    ("retention", "Data retention policy", OFFICER, 400),
    ("security_awareness", "Security awareness policy", SECURITY, 50),
)

# code, title, kind, on joining, due days, recurrence, role kinds
MODULES = (
    ("onboarding", "Security onboarding", "onboarding", True, 30, None, ()),
    ("annual-refresher", "Annual security refresher", "annual_refresher", True, 365, 365, ()),
    ("secure-admin", "Secure administration", "role_specific", False, 30, None, ("admin",)),
    (
        "incident-drill",
        "Incident response simulation",
        "incident_simulation",
        False,
        60,
        365,
        ("owner", "admin"),
    ),
    ("soc2-overview", "SOC 2 overview", "soc2_overview", True, 60, None, ()),
)


def _ago(days: float) -> datetime:
    return timezone.now() - timedelta(days=days)


class Command(BaseCommand):
    help = "Fill the governance registers with demo data (safe to run again)."

    def handle(self, *args: Any, **options: Any) -> None:
        users = {u.email: u for u in User.objects.filter(email__endswith="@cloudexpress.test")}
        missing = {OFFICER, OWNER, SECURITY, MEMBER} - set(users)
        if missing:
            raise CommandError("Run seed_demo first: the demo users are missing.")

        with requestcontext.system_job("seed_governance"), transaction.atomic():
            # Risks, findings and walkthroughs link to the engine's controls.
            catalog_ensure()
            self._policies(users)
            self._training(users)
            self._vendors(users)
            self._risks(users)
            self._changes(users)
            self._continuity(users)
            self._audits(users)
        self.stdout.write("Governance registers seeded.")

    # --- Policies ------------------------------------------------------------

    def _policies(self, users: dict[str, User]) -> None:
        members = selectors.active_members()
        for kind, title, owner_email, reviewed_days in POLICIES:
            owner = users[owner_email]
            policy, created = models.Policy.objects.get_or_create(
                kind=kind, defaults={"title": title, "owner": owner}
            )
            if not created:
                continue
            approver = users[OWNER] if owner_email != OWNER else users[OFFICER]
            version = models.PolicyVersion.objects.create(
                policy=policy,
                number=1,
                body=f"{title}.\n\nThis policy states what CloudExpress requires. "
                "Every member reads and acknowledges it.",
                summary_of_changes="First approved version.",
                author=owner,
                approver=approver,
                approved_at=_ago(reviewed_days),
            )
            policy.current_version = version
            policy.last_reviewed_at = _ago(reviewed_days)
            policy.last_reviewed_by = approver
            policy.save()
            for membership in members:
                # The member has not read the acceptable use policy yet.
                if kind == "acceptable_use" and membership.user.email == MEMBER:
                    continue
                models.PolicyAcknowledgement.objects.get_or_create(
                    version=version, user=membership.user
                )
            if kind == "vendor_management":
                # A second version waiting for approval.
                models.PolicyVersion.objects.create(
                    policy=policy,
                    number=2,
                    body="Vendor management policy, with a yearly review of every vendor.",
                    summary_of_changes="Adds the yearly vendor review.",
                    author=owner,
                )

    # --- Training ------------------------------------------------------------

    def _training(self, users: dict[str, User]) -> None:
        roles = {role.kind: role for role in Role.objects.filter(organization=None)}
        for code, title, kind, on_joining, due_days, recurrence, role_kinds in MODULES:
            module, created = models.TrainingModule.objects.get_or_create(
                code=code,
                defaults={
                    "title": title,
                    "kind": kind,
                    "assign_on_joining": on_joining,
                    "due_days": due_days,
                    "recurrence_days": recurrence,
                    "description": f"{title}: what every CloudExpress member must know.",
                },
            )
            if created and role_kinds:
                module.roles.set([roles[k] for k in role_kinds if k in roles])

        services.training_assignments_sync()
        onboarding = models.TrainingModule.objects.get(code="onboarding")
        soc2 = models.TrainingModule.objects.get(code="soc2-overview")
        for email in (OWNER, OFFICER, SECURITY):
            for module in (onboarding, soc2):
                if not models.TrainingCompletion.objects.filter(
                    module=module, user=users[email]
                ).exists():
                    services.training_complete(
                        module=module, user=users[email], completed_at=_ago(2), score=95
                    )

    # --- Vendors -------------------------------------------------------------

    def _vendors(self, users: dict[str, User]) -> None:
        today = timezone.now().date()
        officer = users[OFFICER]
        vendors = (
            # name, service, data, classification, rating, assessed days ago,
            # DPA renewal in days (None: no DPA), report expiry in days
            (
                "Stratus Hosting",
                "Cloud hosting and managed PostgreSQL",
                "All customer data, encrypted at rest",
                "restricted",
                "medium",
                30,
                300,
                200,
            ),
            (
                "MailRelay",
                "Transactional e-mail",
                "E-mail addresses and names",
                "confidential",
                "medium",
                400,
                -5,
                -10,
            ),
            (
                "PayFlow",
                "Card payments",
                "Billing contacts and payment tokens",
                "restricted",
                "high",
                60,
                500,
                120,
            ),
            (
                "HelpDesk Cloud",
                "Customer support tickets",
                "Support requests",
                "internal",
                "low",
                90,
                None,
                None,
            ),
        )
        for name, service, data, classification, rating, assessed, dpa, report in vendors:
            vendor, created = models.Vendor.objects.get_or_create(
                name=name,
                defaults={
                    "service": service,
                    "data_received": data,
                    "classification": classification,
                    "risk_rating": rating,
                    "owner": officer,
                },
            )
            if not created:
                continue
            assessment = models.VendorAssessment.objects.create(
                vendor=vendor,
                assessor=officer,
                assessed_at=_ago(assessed),
                risk_rating=rating,
                questionnaire={
                    "encrypts_data_at_rest": "yes",
                    "mfa_for_staff": "yes",
                    "breach_notification_hours": 72,
                    "subprocessors_listed": "yes",
                },
                notes="Questionnaire answered by the vendor's security team.",
            )
            contract = models.VendorAgreement.objects.create(
                vendor=vendor,
                kind="contract",
                reference=f"C-{vendor.pk:04d}",
                signed_on=today - timedelta(days=200),
                renewal_on=today + timedelta(days=165),
            )
            models.VendorContractReview.objects.create(
                agreement=contract,
                reviewer=users[OWNER],
                reviewed_at=_ago(45),
                outcome="Terms still fit; renew.",
            )
            if dpa is not None:
                models.VendorAgreement.objects.create(
                    vendor=vendor,
                    kind="dpa",
                    reference=f"DPA-{vendor.pk:04d}",
                    signed_on=today - timedelta(days=360),
                    renewal_on=today + timedelta(days=dpa),
                )
            if report is not None:
                # A small stand-in file, so the page shows a real digest.
                letter = ContentFile(
                    f"SOC 2 Type II bridge letter for {name} (demo data).\n".encode(),
                    name=f"{vendor.public_id}-soc2.txt",
                )
                services.vendor_report_attach(
                    vendor=vendor,
                    assessment=assessment,
                    kind="soc2_type2",
                    file=letter,
                    issued_on=today + timedelta(days=report - 365),
                    expires_on=today + timedelta(days=report),
                )

        mailrelay = models.Vendor.objects.get(name="MailRelay")
        models.VendorIncident.objects.get_or_create(
            vendor=mailrelay,
            summary="Misrouted bounce notifications for two hours; no content exposed.",
            defaults={"severity": "low", "notified_at": _ago(70), "resolved_at": _ago(69)},
        )
        # The demo's people granted the two purposes before the disclosures.
        people = list(User.objects.filter(email__endswith="@cloudexpress.test"))
        purposes = {}
        for code, name in (
            ("billing-terms", "Billing through the payment processor"),
            ("account-notices", "Account notices sent by the mail relay"),
        ):
            purpose = models.ConsentPurpose.objects.filter(code=code).first()
            if purpose is None:
                purpose = consent_purpose_publish(
                    code=code, name=name, text=f"We share what {name.lower()} needs."
                ).purpose
                version = purpose.versions.get()
                models.ConsentRecord.objects.bulk_create(
                    models.ConsentRecord(
                        user=person,
                        purpose=purpose,
                        version=version,
                        decision=models.ConsentRecord.Decision.GRANTED,
                        recorded_at=_ago(20),
                    )
                    for person in people
                )
            purposes[code] = purpose
        disclosures = (
            (
                "PayFlow",
                "Billing contact names and e-mail",
                "Payment processing",
                "billing-terms",
                "consent:billing-terms-2026",
            ),
            (
                "MailRelay",
                "E-mail addresses",
                "Sending account notices",
                "account-notices",
                "consent:account-notices-v3",
            ),
            # No consent purpose named: fails the disclosure check.
            ("HelpDesk Cloud", "Names and support history", "Outsourced support trial", "", ""),
        )
        for vendor_name, data, purpose, code, consent in disclosures:
            models.DataDisclosure.objects.get_or_create(
                vendor=models.Vendor.objects.get(name=vendor_name),
                purpose=purpose,
                defaults={
                    "data_categories": data,
                    "subject_count": len(people),
                    "consent_purpose": purposes.get(code),
                    "consent_reference": consent,
                    "recorded_by": officer,
                    "disclosed_at": _ago(15),
                },
            )

    # --- Risks ---------------------------------------------------------------

    def _risks(self, users: dict[str, User]) -> None:
        risks = (
            # title, category, likelihood, impact, treatment, plan, controls, reviewed
            (
                "Credential stuffing against sign-in",
                "Access",
                4,
                4,
                "mitigate",
                "Lockout, MFA and rate limits on sign-in.",
                ["CX-ATH-01", "CX-THR-01"],
                20,
            ),
            (
                "Loss of the primary database region",
                "Availability",
                2,
                5,
                "mitigate",
                "Hourly backups restored monthly; standby in a second region.",
                ["CX-BCK-01"],
                30,
            ),
            (
                "Vendor breach exposing e-mail addresses",
                "Vendors",
                3,
                3,
                "transfer",
                "DPA with breach notification; cyber insurance.",
                ["CX-VEN-01"],
                40,
            ),
            (
                "Insider exporting customer data",
                "Confidentiality",
                2,
                4,
                "mitigate",
                "Least privilege, audit trail, access reviews.",
                ["CX-ACC-04", "CX-CON-01"],
                25,
            ),
            (
                "Unpatched dependency with a known exploit",
                "Change",
                3,
                4,
                "mitigate",
                "Weekly dependency updates through change management.",
                ["CX-CHG-01"],
                10,
            ),
            (
                "Phishing of an administrator",
                "People",
                4,
                3,
                "mitigate",
                "Security awareness training and phishing drills.",
                ["CX-COM-01"],
                60,
            ),
            # High and untreated: fails the risk check.
            ("Ransomware encrypting backups", "Availability", 3, 5, "", "", ["CX-BCK-01"], 15),
            # High and past its 90-day review: fails the risk check.
            (
                "Key compromise of the encryption master key",
                "Confidentiality",
                3,
                5,
                "mitigate",
                "Keys in a KMS with rotation.",
                ["CX-ATH-01"],
                200,
            ),
        )
        for title, category, likelihood, impact, treatment, plan, controls, reviewed in risks:
            risk, created = models.Risk.objects.get_or_create(
                title=title,
                defaults={
                    "category": category,
                    "likelihood": likelihood,
                    "impact": impact,
                    "treatment": treatment,
                    "treatment_plan": plan,
                    "owner": users[SECURITY],
                    "last_reviewed_at": _ago(reviewed),
                },
            )
            if created:
                risk.controls.set(models.Control.objects.filter(code__in=controls))

    # --- Changes -------------------------------------------------------------

    def _changes(self, users: dict[str, User]) -> None:
        changes = (
            ("Enable HSTS preload", "low", SECURITY, OWNER, 20, ["a1b2c3d"]),
            ("Rotate the session signing key", "medium", SECURITY, OFFICER, 12, ["d4e5f6a"]),
            ("Upgrade PostgreSQL minor version", "medium", OWNER, SECURITY, 5, ["b7c8d9e"]),
        )
        for title, risk, author, approver, days, commits in changes:
            change, created = models.ChangeRequest.objects.get_or_create(
                title=title,
                defaults={
                    "risk": risk,
                    "author": users[author],
                    "reviewer": users[approver],
                    "approver": users[approver],
                    "status": models.ChangeRequest.Status.APPROVED,
                    "approved_at": _ago(days + 1),
                    "created_at": _ago(days + 2),
                    "commits": commits,
                },
            )
            if created:
                models.Deployment.objects.create(
                    change=change,
                    commit=commits[0],
                    pipeline_run=f"pipeline-{commits[0]}",
                    deployed_at=_ago(days),
                    recorded_by=users[OWNER],
                )
        models.ChangeRequest.objects.get_or_create(
            title="Add the audit export endpoint",
            defaults={"risk": "low", "author": users[MEMBER], "reviewer": users[SECURITY]},
        )
        # An emergency hotfix deployed with no change request: the change
        # check lists it until someone files the change after the fact.
        models.Deployment.objects.get_or_create(
            pipeline_run="pipeline-hotfix-0193",
            environment="production",
            defaults={"commit": "f00dbabe", "deployed_at": _ago(3), "change": None},
        )

    # --- Continuity ----------------------------------------------------------

    def _continuity(self, users: dict[str, User]) -> None:
        plan, created = models.DisasterRecoveryPlan.objects.get_or_create(
            name="Portal and database recovery",
            defaults={
                "scope": "Restore the portal, its PostgreSQL database and Redis in the "
                "standby region from the latest backup.",
                "owner": users[OWNER],
                "approved_at": _ago(100),
            },
        )
        if not created:
            return
        models.DisasterRecoveryTest.objects.create(
            plan=plan,
            kind="restore",
            performed_at=_ago(200),
            measured_rto_minutes=290,
            measured_rpo_minutes=45,
            conducted_by=users[SECURITY],
            notes="Restore took too long: the backup copy was throttled.",
        )
        models.DisasterRecoveryTest.objects.create(
            plan=plan,
            kind="failover",
            performed_at=_ago(25),
            measured_rto_minutes=150,
            measured_rpo_minutes=35,
            conducted_by=users[SECURITY],
            notes="Failover to the standby region met both objectives.",
        )
        contacts = (
            (1, "Sam Security", "Incident commander", "+1 555 0100", SECURITY),
            (2, "Olivia Owner", "Executive sponsor", "+1 555 0101", OWNER),
            (3, "Stratus Hosting support", "Hosting provider", "+1 555 0199", ""),
        )
        for order, name, role, phone, email in contacts:
            models.EmergencyContact.objects.create(
                plan=plan, escalation_order=order, name=name, role=role, phone=phone, email=email
            )

    # --- Internal audits -----------------------------------------------------

    def _audits(self, users: dict[str, User]) -> None:
        today = timezone.now().date()
        quarterly, created = models.InternalAudit.objects.get_or_create(
            title="Quarterly control review, last quarter",
            defaults={
                "kind": "quarterly_review",
                "scope": "Access, change and backup controls.",
                "period_start": today - timedelta(days=120),
                "period_end": today - timedelta(days=30),
                "lead": users[OFFICER],
                "status": "completed",
                "completed_on": today - timedelta(days=25),
            },
        )
        if created:
            findings = (
                ("Two admins without MFA", "high", "CX-ATH-01", 28, 14, 20),
                ("Access review finished late", "medium", "CX-ACC-04", 28, 30, 10),
                # Open and past due: shows in the KPI as overdue.
                ("Backup restore not documented", "medium", "CX-BCK-01", 28, 21, None),
            )
            for title, severity, control, opened, due, closed in findings:
                models.AuditFinding.objects.create(
                    audit=quarterly,
                    title=title,
                    severity=severity,
                    control=models.Control.objects.get(code=control),
                    owner=users[SECURITY],
                    opened_at=_ago(opened),
                    due_on=(timezone.now() - timedelta(days=opened - due)).date(),
                    closed_at=_ago(closed) if closed else None,
                    closure_note="Fixed and verified." if closed else "",
                )
        models.InternalAudit.objects.get_or_create(
            title="Annual internal audit",
            defaults={
                "kind": "annual",
                "scope": "The whole SOC 2 control set before the Type II window.",
                "period_start": today - timedelta(days=335),
                "period_end": today + timedelta(days=30),
                "lead": users[OWNER],
                "status": "in_progress",
            },
        )
        models.InternalAudit.objects.get_or_create(
            title="Ad-hoc assessment of the vendor onboarding",
            defaults={
                "kind": "ad_hoc",
                "period_start": today - timedelta(days=60),
                "period_end": today - timedelta(days=50),
                "lead": users[OFFICER],
                "status": "completed",
                "completed_on": today - timedelta(days=48),
            },
        )
        walkthroughs = (
            ("CX-ATH-01", "held", -20, "Showed MFA enforcement and the lockout settings."),
            ("CX-CHG-01", "held", -19, "Walked a change from request to deployment."),
            ("CX-BCK-01", "scheduled", 7, ""),
        )
        for code, status, days, record in walkthroughs:
            scheduled = timezone.now() + timedelta(days=days)
            models.Walkthrough.objects.get_or_create(
                control=models.Control.objects.get(code=code),
                defaults={
                    "auditor_name": "Arthur Auditor",
                    "presenter": users[SECURITY],
                    "scheduled_at": scheduled,
                    "status": status,
                    "held_at": scheduled if status == "held" else None,
                    "record": record,
                },
            )
