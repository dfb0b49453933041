"""Checks over data: disposal, retention, evidence integrity, encryption
keys, and the privacy programme."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.urls import Resolver404, resolve

from accounts.models import User, UserSession
from audit import chain
from compliance.checks.registry import (
    CheckContext,
    Outcome,
    check,
    failed,
    judged,
    model_field_names,
    optional_model,
    passed,
)
from compliance.models import Attestation
from compliance.policy import threshold

# Columns that hold, or can hold, a person's data. None of them may be part
# of hashed content, or erasure would break the chain.
PERSONAL_COLUMNS = frozenset(
    {
        "ip",
        "remote_addr",
        "user_agent",
        "email",
        "full_name",
        "detail",
        "changes",
        "changes_text",
        "object_repr",
        "additional_data",
        "serialized_data",
        "actor_id",
        "actor",
        "target_user_id",
        "target_user",
    }
)


@check("c-sessions-purged", controls=["CX-CON-02"])
def sessions_purged(ctx: CheckContext) -> Outcome:
    """Expired sessions are purged within a day."""
    grace = timedelta(days=threshold("expired_sessions_grace_days"))
    stale = UserSession.objects.filter(expire_date__lt=ctx.now - grace)
    count = stale.count()
    return judged(
        count == 0,
        "no expired session lingers",
        f"{count} session(s) expired more than {grace} ago are still stored",
        [f"{count} expired sessions"] if count else [],
    )


def _retention_cutoffs(now: datetime) -> dict[str, datetime]:
    """Each data type's cut-off from its stored retention policy, or from the
    compliance document's default where none is stored (a check writes
    nothing, so it does not create the missing policies)."""
    from compliance.models import RetentionPolicy
    from compliance.privacy.policies import DEFAULTS

    stored = {policy.data_type: policy for policy in RetentionPolicy.objects.all()}
    cutoffs = {}
    for data_type, default in DEFAULTS.items():
        policy = stored.get(data_type) or RetentionPolicy(
            data_type=data_type, amount=default.amount, unit=default.unit
        )
        cutoffs[data_type] = policy.cutoff(now)
    return cutoffs


@check("c-rows-within-retention", controls=["CX-CON-02", "CX-PRV-04"], weight=2)
def rows_within_retention(ctx: CheckContext) -> Outcome:
    """No row the retention job deletes by date outlives its retention policy,
    unless a legal hold keeps it (or it is the newest row of its chain, which
    always stays so that the chain goes on from it)."""
    from compliance.privacy import retention
    from compliance.privacy.holds import legal_holds_active

    cutoffs = _retention_cutoffs(ctx.now)
    holds = legal_holds_active()
    failing = []
    evidence = {}
    for target in retention.TARGETS:
        model = target.model()
        if model is None or target.data_type in holds.data_types:
            continue
        cutoff = cutoffs[target.data_type]
        older = retention.expired_unheld(target, cutoff, holds)
        if target.chained:
            head = model._default_manager.exclude(seq=None).order_by("-seq").values("seq")[:1]
            older = older.exclude(seq__in=head)
        count = older.count()
        evidence[target.data_type] = {"cutoff": cutoff.isoformat(), "older_rows": count}
        if count:
            failing.append(f"{target.data_type}: {count} row(s) older than its policy")
    return judged(
        not failing,
        "nothing outlives its retention period",
        "rows outlive their retention period",
        failing,
        **evidence,
    )


@check("c-attestations-intact", controls=["CX-CON-01"], weight=2)
def attestations_intact(ctx: CheckContext) -> Outcome:
    """Every attestation file matches its recorded SHA-256 and is classified."""
    failing = []
    total = 0
    for pk, name, recorded, classification in Attestation.objects.values_list(
        "pk", "file", "sha256", "classification"
    ).iterator():
        total += 1
        if not classification:
            failing.append(f"attestation {pk}: no classification")
        digest = hashlib.sha256()
        try:
            with Attestation.file.field.storage.open(name, "rb") as handle:
                while block := handle.read(1 << 20):
                    digest.update(block)
        except (FileNotFoundError, OSError):
            failing.append(f"attestation {pk}: file missing")
            continue
        if digest.hexdigest() != recorded:
            failing.append(f"attestation {pk}: file changed since upload")
    return judged(
        not failing,
        f"all {total} attestation file(s) are intact",
        "attestation files are missing, changed or unclassified",
        failing,
        attestations=total,
    )


@check("cc-encryption-key-age", controls=["CX-ENC-01"], weight=2)
def encryption_key_age(ctx: CheckContext) -> Outcome:
    """The key that encrypts each kind of data is younger than the rotation
    policy, and no field value is still sealed by a retired key."""
    from compliance.models import EncryptionKey
    from compliance.privacy.keys import encryption_key_ages, field_key_usage

    max_age = threshold("encryption_key_max_age_days")
    ages = encryption_key_ages(now=ctx.now)
    failing = []
    for purpose, entry in sorted(ages.items()):
        if entry["age_days"] is None:
            failing.append(
                f"{purpose} key {entry['key_id']}: no creation time recorded "
                "(run manage.py rotate_keys)"
            )
        elif entry["age_days"] > max_age:
            failing.append(
                f"{purpose} key {entry['key_id']}: {entry['age_days']} days old "
                f"(policy {max_age}; rotate it)"
            )
    retired = set(
        EncryptionKey.objects.filter(
            purpose=EncryptionKey.Purpose.FIELDS, retired_at__isnull=False
        ).values_list("key_id", flat=True)
    )
    for label, counts in field_key_usage().items():
        for key_id, count in counts.items():
            if key_id in retired:
                failing.append(f"{label}: {count} value(s) under retired key {key_id}")
    oldest = max((e["age_days"] or 0 for e in ages.values()), default=0)
    return judged(
        not failing,
        f"every active key is at most {oldest} days old (policy {max_age})",
        "encryption keys are older than the policy or not recorded",
        failing,
        max_age_days=max_age,
        keys=ages,
    )


@check("p-privacy-contact", controls=["CX-PRV-01", "CX-PRV-08"])
def privacy_contact(ctx: CheckContext) -> Outcome:
    """A data protection contact is published on the contacts page."""
    contact = settings.PORTAL_CONTACTS.get("data_protection_officer", "")
    try:
        validate_email(contact)
    except ValidationError:
        return failed(
            "the data protection contact is not an e-mail address",
            ["PORTAL_CONTACTS.data_protection_officer"],
        )
    try:
        resolve("/contacts/")
    except Resolver404:
        return failed("the contacts page is not routed", ["/contacts/"])
    return passed("the data protection contact is published", page="/contacts/")


@check("p-chain-without-personal-data", controls=["CX-PRV-04"], weight=2)
def chain_without_personal_data(ctx: CheckContext) -> Outcome:
    """No personal value is part of hashed audit content, so erasure keeps the chain."""
    failing = [
        f"{table}.{column}"
        for table, columns in chain.HASHED_FIELDS.items()
        for column in columns
        if column in PERSONAL_COLUMNS
    ]
    return judged(
        not failing,
        "hashed columns hold no personal data",
        "personal columns are part of hashed content",
        failing,
        hashed={table: list(columns) for table, columns in chain.HASHED_FIELDS.items()},
    )


@check("p-leavers-erased", controls=["CX-PRV-04"], weight=2)
def leavers_erased(ctx: CheckContext) -> Outcome:
    """People who left longer ago than the user-data policy have their
    personal data erased, unless a legal hold keeps it."""
    from compliance.models import DataType
    from compliance.privacy import gdpr
    from compliance.privacy.holds import legal_holds_active

    holds = legal_holds_active()
    if DataType.USER_DATA in holds.data_types:
        return passed("user data is under a legal hold", held=True)
    # The erasure service's own test of an erased person (its pseudonymous
    # address), over the policy's own cut-off.
    due = gdpr.users_past_retention(_retention_cutoffs(ctx.now)[DataType.USER_DATA])
    due = due.exclude(pk__in=gdpr.users_under_hold(due, holds).values("pk"))
    count = due.count()
    return judged(
        count == 0,
        "no leaver's data is kept past the user-data policy",
        f"{count} leaver(s) still identifiable past the user-data policy",
        [f"user {pk}" for pk in due.values_list("public_id", flat=True)[:50]],
    )


@check("p-inventory-reviewed", controls=["CX-PRV-03"], weight=2)
def inventory_reviewed(ctx: CheckContext) -> Outcome:
    """Every personal-looking field is in the data inventory, and the
    inventory as it stands was reviewed (a second person's reviewed
    attestation) within the review period."""
    from compliance.privacy import inventory

    failing = [f"{label}: not in the data inventory" for label in inventory.inventory_uncovered()]
    status = inventory.inventory_review_status(now=ctx.now)
    if status.attestation_id is None:
        failing.append("no reviewed, unexpired attestation of the inventory review")
    elif not status.covers_current:
        failing.append(f"attestation {status.attestation_id} reviewed an older inventory")
    elif status.overdue(ctx.now):
        failing.append(f"review due since {status.due_at:%Y-%m-%d}")
    return judged(
        not failing,
        f"inventory reviewed on {status.reviewed_at:%Y-%m-%d}" if status.reviewed_at else "",
        "the data inventory is incomplete or its review is overdue",
        failing,
        digest=inventory.inventory_digest(),
        due_at=status.due_at.isoformat() if status.due_at else None,
    )


@check("p-contact-data-valid", controls=["CX-PRV-07"])
def contact_data_valid(ctx: CheckContext) -> Outcome:
    """Every active user's e-mail address is well formed."""
    invalid = []
    for pk, email in (
        User.objects.filter(is_active=True, terminated_at=None)
        .values_list("public_id", "email")
        .iterator(chunk_size=5000)
    ):
        try:
            validate_email(email)
        except ValidationError:
            invalid.append(f"user {pk}")
    return judged(
        not invalid,
        "active users' contact data is well formed",
        f"{len(invalid)} active user(s) with a malformed e-mail",
        invalid,
    )


@check("p-privacy-notice", controls=["CX-PRV-01"])
def privacy_notice(ctx: CheckContext) -> Outcome:
    """A current privacy notice is published."""
    notice = optional_model("compliance.PrivacyNotice", "compliance.PrivacyNoticeVersion")
    fields = model_field_names(notice)
    published = notice._default_manager.all()
    if "published_at" in fields:
        published = published.filter(published_at__lte=ctx.now)
    latest = published.order_by("-pk").values_list("pk", flat=True).first()
    return judged(
        latest is not None,
        f"privacy notice {latest} is published",
        "no privacy notice is published",
        ["privacy notice"],
    )


@check("p-consent-versioned", controls=["CX-PRV-02"])
def consent_versioned(ctx: CheckContext) -> Outcome:
    """Every consent purpose has a versioned text people agreed to."""
    purpose = optional_model("compliance.ConsentPurpose")
    relation = next(
        (f.name for f in purpose._meta.get_fields() if f.one_to_many and "version" in f.name),
        None,
    )
    if relation is None:
        return failed("consent purposes have no versioned texts", [purpose._meta.label])
    bare = purpose._default_manager.filter(**{f"{relation}__isnull": True})
    count = bare.count()
    return judged(
        count == 0,
        "every purpose has a versioned text",
        f"{count} purpose(s) without a text",
        [f"purpose {pk}" for pk in bare.values_list("pk", flat=True)[:50]],
    )


@check("p-requests-answered", controls=["CX-PRV-05"], weight=2)
def requests_answered(ctx: CheckContext) -> Outcome:
    """Every data-subject request is answered within 30 days."""
    request_model = optional_model("compliance.PrivacyRequest", "compliance.DataSubjectRequest")
    limit = timedelta(days=threshold("privacy_request_max_days"))
    fields = model_field_names(request_model)
    received = "received_at" if "received_at" in fields else "created_at"
    overdue = request_model._default_manager.filter(
        completed_at=None, **{f"{received}__lt": ctx.now - limit}
    )
    count = overdue.count()
    return judged(
        count == 0,
        "every request was answered in time",
        f"{count} request(s) open for more than {limit.days} days",
        [f"request {pk}" for pk in overdue.values_list("pk", flat=True)[:50]],
    )


GDPR_EXPORT_PROBE = "/api/compliance/gdpr/export/00000000-0000-0000-0000-000000000000"


@check("p-export-available", controls=["CX-PRV-05"])
def export_available(ctx: CheckContext) -> Outcome:
    """People can export their data: the export endpoint is routed."""
    try:
        match = resolve(GDPR_EXPORT_PROBE)
    except Resolver404:
        match = None
    if match is None or match.func.__name__ == "api_not_found":
        # The export is built (compliance/privacy/api_urls.py): a missing
        # route is a broken deployment, not work still to come.
        return failed(
            "the data export endpoint is not routed", [GDPR_EXPORT_PROBE], path=GDPR_EXPORT_PROBE
        )
    return passed("the data export endpoint is routed", view=match.view_name or "")
