"""Helpers shared by the detection tests: record events, run detection."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from audit.detection.engine import detection_run
from audit.models import Alert, SecurityEvent
from audit.services import security_event_record

BASE = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def at(minutes: float = 0) -> dt.datetime:
    return BASE + dt.timedelta(minutes=minutes)


def record(event_type: str, when: dt.datetime | None = None, **kwargs: Any) -> SecurityEvent:
    return security_event_record(
        event_type=event_type, occurred_at=when or timezone.now(), **kwargs
    )


def run() -> dict[str, int]:
    return detection_run()


def alerts(rule: str) -> list[Alert]:
    return list(Alert.objects.filter(rule=rule).order_by("id"))


def login_with_second_factor(client: Any, user: Any) -> None:
    """Sign ``user`` into ``client`` as if through the TOTP step.

    Staff and operator members must use a second factor, and the session
    policy sends a session without one to the MFA page; the sign-in flow
    itself is tested in tests/accounts. django_otp marks a session verified
    by the confirmed device's id under DEVICE_ID_SESSION_KEY.
    """
    from django_otp import DEVICE_ID_SESSION_KEY

    from tests.accounts.auth_support import enrolled_device

    device, _ = enrolled_device(user)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
