"""What the other processes do in the embedded default's live-update test,
run as ``python -m tests.support.embedded_actors <step>`` in a process of its
own, on the embedded settings of the environment it is given.

viewer   create the operator organization and a member who may view the
         dashboard, sign them in; print the session key
detect   record a burst of failed sign-ins and run detection, as the worker's
         job does: its alerts are broadcast when they commit; print the
         alerts' titles, one a line
"""

from __future__ import annotations

import sys
import uuid

import django


def viewer() -> None:
    from django.conf import settings
    from django.test import Client

    from accounts.services import roles_builtin_ensure
    from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

    operator = OrganizationFactory(slug=settings.OPERATOR_ORGANIZATION_SLUG, is_operator=True)
    # Each process starts the factories' sequences again: name people apart.
    user = UserFactory(email=f"viewer-{uuid.uuid4().hex[:8]}@example.test")
    MembershipFactory(user=user, organization=operator, role=roles_builtin_ensure()["member"])
    client = Client()
    client.force_login(user)
    print(client.cookies[settings.SESSION_COOKIE_NAME].value)


def detect() -> None:
    from audit.detection.engine import detection_run
    from audit.models import Alert, SecurityEvent
    from audit.services import security_event_record
    from tests.factories import UserFactory

    victim = UserFactory(email=f"victim-{uuid.uuid4().hex[:8]}@example.test")
    for _ in range(10):
        security_event_record(
            event_type=SecurityEvent.Type.SIGN_IN_FAILED,
            ip="198.51.100.23",
            target_user=victim,
            detail={"username": victim.email},
        )
    detection_run()
    for title in Alert.objects.order_by("pk").values_list("title", flat=True):
        print(title)


if __name__ == "__main__":
    django.setup()
    {"viewer": viewer, "detect": detect}[sys.argv[1]]()
