"""Load the demo data: idempotent, so every `make run` may call it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts import services
from accounts.models import ApprovalRequest, Invitation, Membership, Organization, Role, User
from accounts.services.reviews import quarter_slot
from cloudexpress import requestcontext

DEMO_PASSWORD = "Demo-Portal-2026!"

ORGANIZATIONS = (
    ("CloudExpress", settings.OPERATOR_ORGANIZATION_SLUG, True),
    ("Acme Health", "acme-health", False),
    ("Globex Retail", "globex-retail", False),
)

# e-mail, name, organization slug, role kind, staff
USERS = (
    ("owner@cloudexpress.test", "Olivia Owner", "cloudexpress", "owner", True),
    ("officer@cloudexpress.test", "Carla Compliance", "cloudexpress", "admin", True),
    ("security@cloudexpress.test", "Sam Security", "cloudexpress", "admin", True),
    ("auditor@audit-firm.test", "Arthur Auditor", "cloudexpress", "auditor", False),
    ("member@cloudexpress.test", "Mia Member", "cloudexpress", "member", False),
    ("admin@acme-health.test", "Alan Acme", "acme-health", "owner", False),
    ("nurse@acme-health.test", "Nora Nurse", "acme-health", "member", False),
    ("owner@globex-retail.test", "Gina Globex", "globex-retail", "owner", False),
    ("clerk@globex-retail.test", "Cody Clerk", "globex-retail", "member", False),
)


AUDITOR_ENGAGEMENT = timedelta(days=90)


class Command(BaseCommand):
    help = "Create the demo organizations and users (safe to run again)."

    def handle(self, *args: Any, **options: Any) -> None:
        with requestcontext.system_job("seed_demo"), transaction.atomic():
            roles = services.roles_builtin_ensure()
            organizations = {}
            for name, slug, is_operator in ORGANIZATIONS:
                organization, _ = Organization.objects.get_or_create(
                    slug=slug, defaults={"name": name, "is_operator": is_operator}
                )
                organizations[slug] = organization
            for email, full_name, slug, role_kind, staff in USERS:
                user = User.objects.filter(email=email).first()
                if user is None:
                    user = User.objects.create_user(
                        email,
                        DEMO_PASSWORD,
                        full_name=full_name,
                        is_staff=staff,
                        is_superuser=staff and role_kind == "owner",
                    )
                # Sign-in requires a verified address (allauth); the demo
                # addresses are verified so the printed sign-ins work.
                EmailAddress.objects.update_or_create(
                    user=user, email=email, defaults={"verified": True, "primary": True}
                )
                services.membership_create(
                    user=user,
                    organization=organizations[slug],
                    role=roles[role_kind],
                    # The external auditor's engagement is time-boxed.
                    expires_at=timezone.now() + AUDITOR_ENGAGEMENT
                    if role_kind == "auditor"
                    else None,
                )
            self._access_workflows(organizations, roles)
        self.stdout.write("Demo access: a review campaign, an invitation, an approval request.")
        call_command("seed_governance", stdout=self.stdout)
        self.stdout.write(f"Demo sign-ins (password for all: {DEMO_PASSWORD}):")
        for email, _name, slug, role_kind, _staff in USERS:
            self.stdout.write(f"  {email:32} {role_kind:8} {slug}")

    def _access_workflows(
        self, organizations: dict[str, Organization], roles: dict[str, Role]
    ) -> None:
        """An access review under way, an open invitation and a pending
        four-eyes request, each made once."""
        operator = organizations["cloudexpress"]
        owner = User.objects.get(email="owner@cloudexpress.test")

        campaign, created = services.access_review_campaign_start(
            organization=operator, slot=quarter_slot(timezone.now())
        )
        if created:
            officer_item = campaign.items.get(membership__user__email="officer@cloudexpress.test")
            services.access_review_item_decide(
                item=officer_item, reviewer=owner, decision="keep", note="still needed"
            )

        acme = organizations["acme-health"]
        acme_owner = User.objects.get(email="admin@acme-health.test")
        if not Invitation.objects.filter(organization=acme).exists():
            services.invitation_send(
                organization=acme,
                email="new.hire@acme-health.test",
                role=roles["member"],
                invited_by=acme_owner,
            )

        pending = ApprovalRequest.objects.filter(
            organization=operator, kind=ApprovalRequest.Kind.ROLE_GRANT
        )
        if not pending.exists():
            services.membership_role_change(
                membership=Membership.objects.get(
                    organization=operator, user__email="member@cloudexpress.test"
                ),
                role=roles["admin"],
                actor=owner,
                reason="covering for the security admin on leave",
            )
