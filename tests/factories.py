"""factory_boy factories shared by every test module."""

from __future__ import annotations

import factory

from accounts.models import Membership, Organization, Role, User

DEFAULT_PASSWORD = "Correct-Horse-9-Battery"

__all__ = ["DEFAULT_PASSWORD", "MembershipFactory", "OrganizationFactory", "User", "UserFactory"]


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
