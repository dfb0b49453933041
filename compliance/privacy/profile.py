"""Self-service profile: what a person sees about themselves and corrects."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import Membership, User, UserSession, normalise_email
from cloudexpress.api.exceptions import ServiceError
from compliance.models import DataSubjectRequest


def profile_summary(user: User) -> dict[str, Any]:
    return {
        "user": user,
        "memberships": list(
            Membership.objects.filter(user=user).select_related("organization", "role")
        ),
        "sessions": UserSession.objects.filter(user=user).count(),
    }


@transaction.atomic
def profile_correct(*, user: User, full_name: str, email: str) -> User:
    """Correct the user's own data; auditlog records the change (with the
    actor from the request) and a rectification request is recorded."""
    from django.utils import timezone

    email = normalise_email(email)
    if User.objects.filter(email__iexact=email).exclude(pk=user.pk).exists():
        raise ServiceError("That address is in use.", code="email_taken", status_code=409)
    changed = [
        name
        for name, value in (("full_name", full_name.strip()), ("email", email))
        if getattr(user, name) != value
    ]
    if not changed:
        return user
    user.full_name = full_name.strip()
    user.email = email
    user.save(update_fields=changed)
    now = timezone.now()
    DataSubjectRequest.objects.create(
        kind=DataSubjectRequest.Kind.RECTIFICATION,
        status=DataSubjectRequest.Status.COMPLETED,
        subject=user,
        subject_public_id=user.public_id,
        requested_by=user,
        received_at=now,
        due_at=now,
        completed_at=now,
        outcome={"fields": changed},
    )
    return user
