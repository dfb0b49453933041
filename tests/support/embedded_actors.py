"""What the other processes do in the embedded default's live-update test,
run as ``python -m tests.support.embedded_actors <step>`` in a process of its
own, on the embedded settings of the environment it is given.

viewer   create (unless there) the operator organization and a member who may view the
         dashboard, sign them in; print the session key
detect   record a burst of failed sign-ins and queue the detection job for
         the worker, as beat does
alerts   print the alerts' titles, one a line
"""

from __future__ import annotations

import sys
import uuid

import django


def viewer() -> None:
    from django.conf import settings
    from django.test import Client

    from accounts.models import Organization
    from accounts.services import roles_builtin_ensure
    from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

    # The demo data of `make run` has the operator organization already.
    slug = settings.OPERATOR_ORGANIZATION_SLUG
    operator = Organization.objects.filter(slug=slug).first() or OrganizationFactory(
        slug=slug, is_operator=True
    )
    # Each process starts the factories' sequences again: name people apart.
    user = UserFactory(email=f"viewer-{uuid.uuid4().hex[:8]}@example.test")
    MembershipFactory(user=user, organization=operator, role=roles_builtin_ensure()["member"])
    client = Client()
    client.force_login(user)
    print(client.cookies[settings.SESSION_COOKIE_NAME].value)


def detect() -> None:
    from audit.models import SecurityEvent
    from audit.services import security_event_record
    from cloudexpress.celery import app
    from tests.factories import UserFactory

    victim = UserFactory(email=f"victim-{uuid.uuid4().hex[:8]}@example.test")
    for _ in range(10):
        security_event_record(
            event_type=SecurityEvent.Type.SIGN_IN_FAILED,
            ip="198.51.100.23",
            target_user=victim,
            detail={"username": victim.email},
        )
    # The job beat queues every five minutes, queued now.
    app.send_task("audit.detection_run")


def alerts() -> None:
    from audit.models import Alert

    for title in Alert.objects.order_by("pk").values_list("title", flat=True):
        print(title)


if __name__ == "__main__":
    django.setup()
    {"viewer": viewer, "detect": detect, "alerts": alerts}[sys.argv[1]]()
