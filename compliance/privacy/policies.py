"""Retention policies: the defaults of the compliance document, as data."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from compliance.models import DataType, RetentionPolicy

Unit = RetentionPolicy.Unit


@dataclass(frozen=True)
class PolicyDefault:
    amount: int
    unit: str
    starts_at_termination: bool = False
    archive_before_delete: bool = False
    description: str = ""


DEFAULTS: dict[str, PolicyDefault] = {
    DataType.AUDIT_LOGS: PolicyDefault(
        7, Unit.YEARS, archive_before_delete=True, description="Model change trail"
    ),
    DataType.SECURITY_EVENTS: PolicyDefault(
        7, Unit.YEARS, archive_before_delete=True, description="Sign-ins, denials, key use"
    ),
    DataType.USER_DATA: PolicyDefault(
        3,
        Unit.YEARS,
        starts_at_termination=True,
        description="Personal data of a terminated user, erased three years after termination",
    ),
    DataType.USAGE_DATA: PolicyDefault(13, Unit.MONTHS, description="API requests per day"),
    DataType.NOTIFICATIONS: PolicyDefault(90, Unit.DAYS, description="Notifications sent"),
    DataType.BACKUPS: PolicyDefault(1, Unit.YEARS, description="Encrypted database backups"),
}


def retention_policies_ensure() -> dict[str, RetentionPolicy]:
    """Create any missing default policy; never overwrite an edited one."""
    existing = {policy.data_type: policy for policy in RetentionPolicy.objects.all()}
    if set(DEFAULTS) - set(existing):
        with transaction.atomic():
            return _create_missing(existing)
    return existing


def _create_missing(existing: dict[str, RetentionPolicy]) -> dict[str, RetentionPolicy]:
    for data_type, default in DEFAULTS.items():
        if data_type in existing:
            continue
        existing[data_type] = RetentionPolicy.objects.create(
            data_type=data_type,
            amount=default.amount,
            unit=default.unit,
            starts_at_termination=default.starts_at_termination,
            archive_before_delete=default.archive_before_delete,
            description=default.description,
        )
    return existing


def retention_policy_update(
    *, data_type: str, amount: int | None = None, unit: str | None = None
) -> RetentionPolicy:
    """Change one policy's period; auditlog records the change and its actor."""
    policy = RetentionPolicy.objects.get(data_type=data_type)
    if amount is not None:
        policy.amount = amount
    if unit is not None:
        policy.unit = unit
    policy.full_clean()
    policy.save()
    return policy
