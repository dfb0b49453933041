"""factory_boy factories shared by every test module."""

from __future__ import annotations

import factory
from django.conf import settings

from accounts.models import Membership, Organization, Role, User

DEFAULT_PASSWORD = "Correct-Horse-9-Battery"

__all__ = [
    "DEFAULT_PASSWORD",
    "MembershipFactory",
    "OrganizationFactory",
    "User",
    "UserFactory",
    "operator_member",
]


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def _save(obj: User, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            obj.save()


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


def builtin_role(kind: str) -> Role:
    from accounts.services import roles_builtin_ensure

    return roles_builtin_ensure()[kind]


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = factory.LazyFunction(lambda: builtin_role("member"))


def operator_member(role: str = "admin", **user_fields: object) -> User:
    """A user with a current membership of the operator organization under a
    built-in role: what reaches platform-wide data now that the staff flag
    grants nothing. The operator organization is made when there is none."""
    operator = Organization.objects.filter(is_operator=True).first()
    if operator is None:
        operator = OrganizationFactory(is_operator=True, slug=settings.OPERATOR_ORGANIZATION_SLUG)
    user = UserFactory(**user_fields)
    Membership.objects.create(user=user, organization=operator, role=builtin_role(role))
    return user
