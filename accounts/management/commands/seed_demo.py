"""Load the demo data: idempotent, so every `make run` may call it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import services
from accounts.models import Organization, User
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
                services.membership_create(
                    user=user, organization=organizations[slug], role=roles[role_kind]
                )
        call_command("seed_governance", stdout=self.stdout)
        self.stdout.write(f"Demo sign-ins (password for all: {DEMO_PASSWORD}):")
        for email, _name, slug, role_kind, _staff in USERS:
            self.stdout.write(f"  {email:32} {role_kind:8} {slug}")
