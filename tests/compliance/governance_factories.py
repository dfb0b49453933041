"""Factories for the governance registers' tests."""

from __future__ import annotations

import datetime as dt

import factory
from django.conf import settings
from django.utils import timezone

from accounts.models import Membership, Organization
from compliance import models
from tests.factories import MembershipFactory, builtin_role
from tests.factories import UserFactory as HashingUserFactory


class UserFactory(HashingUserFactory):
    """A user with no usable password: these tests sign in with
    force_login, and hashing hundreds of Argon2 passwords would dominate
    their run time."""

    password = factory.PostGenerationMethodCall("set_unusable_password")

    # Overriding ``password`` moves it after the parent's save hook; save
    # once more so the stored row holds the password the session hashes.
    @factory.post_generation
    def _save_after_password(
        obj: object, create: bool, extracted: object, **kwargs: object
    ) -> None:
        if create:
            obj.save()  # type: ignore[attr-defined]


def operator() -> Organization:
    organization, _ = Organization.objects.get_or_create(
        slug=settings.OPERATOR_ORGANIZATION_SLUG,
        defaults={"name": "CloudExpress", "is_operator": True},
    )
    return organization


def member(role: str = "member", joined: dt.datetime | None = None, **user: object) -> Membership:
    """An active member of the operator organization, joined at ``joined``."""
    membership = MembershipFactory(
        organization=operator(), role=builtin_role(role), user=UserFactory(**user)
    )
    if joined is not None:
        # created_at is auto_now_add: set it after the fact.
        Membership.objects.filter(pk=membership.pk).update(created_at=joined)
        membership.refresh_from_db()
    return membership


def days_ago(days: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


class PolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Policy

    kind = factory.Iterator([k for k, _ in models.Policy.Kind.choices])
    title = factory.LazyAttribute(lambda o: f"{o.kind.replace('_', ' ').title()} policy")
    owner = factory.SubFactory(UserFactory)


def policy_with_version(reviewed_days_ago: float = 10, **kwargs: object) -> models.Policy:
    policy = PolicyFactory(**kwargs)
    version = models.PolicyVersion.objects.create(
        policy=policy,
        number=1,
        body="The text.",
        author=policy.owner,
        approver=UserFactory(),
        approved_at=days_ago(reviewed_days_ago),
    )
    policy.current_version = version
    policy.last_reviewed_at = days_ago(reviewed_days_ago)
    policy.save()
    return policy


class TrainingModuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.TrainingModule

    code = factory.Sequence(lambda n: f"module-{n}")
    title = factory.Sequence(lambda n: f"Module {n}")
    kind = models.TrainingModule.Kind.ONBOARDING


class VendorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Vendor

    name = factory.Sequence(lambda n: f"Vendor {n}")
    service = "Hosting"
    data_received = "Customer account data"
    classification = "confidential"
    owner = factory.SubFactory(UserFactory)


class RiskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Risk

    title = factory.Sequence(lambda n: f"Risk {n}")
    likelihood = 4
    impact = 4
    owner = factory.SubFactory(UserFactory)
    treatment = models.Risk.Treatment.MITIGATE
    treatment_plan = "Add a second region."
    last_reviewed_at = factory.LazyFunction(lambda: days_ago(5))


class ChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ChangeRequest

    title = factory.Sequence(lambda n: f"Change {n}")
    author = factory.SubFactory(UserFactory)


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.DisasterRecoveryPlan

    name = factory.Sequence(lambda n: f"DR plan {n}")
    scope = "The portal and its database."
    owner = factory.SubFactory(UserFactory)


class AuditFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.InternalAudit

    title = factory.Sequence(lambda n: f"Audit {n}")
    kind = models.InternalAudit.Kind.QUARTERLY_REVIEW
    period_start = factory.LazyFunction(lambda: timezone.now().date() - dt.timedelta(days=90))
    period_end = factory.LazyFunction(lambda: timezone.now().date())
    lead = factory.SubFactory(UserFactory)


class FindingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.AuditFinding

    audit = factory.SubFactory(AuditFactory)
    title = factory.Sequence(lambda n: f"Finding {n}")
    severity = "medium"
    owner = factory.SubFactory(UserFactory)
    due_on = factory.LazyFunction(lambda: timezone.now().date() + dt.timedelta(days=30))
