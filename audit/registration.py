"""Which models the audit trail follows, and how updates are diffed.

Many-to-many fields are listed explicitly: auditlog records them only when
told. Not followed, on purpose: ``UserSession`` (its key is a credential and
it is saved on every request; sign-in, sign-out and revocation are security
events instead) and the chained tables themselves.

auditlog diffs an update by reading the row again before saving it: one
more query on every audited save. Here each followed instance keeps the
values it was loaded with (and saved with last), and an update is diffed
against those; an instance without them (deferred fields) falls back to
auditlog's own receiver. The diff therefore says what this save changed
relative to what its process read, which is the question an auditor asks.
``refresh_from_db`` does not renew the remembered values (Django has no
hook for it), so a save after a refresh also lists what others changed in
between.
"""

from __future__ import annotations

import copy
from typing import Any

from django.db import models
from django.db.models.signals import post_init, post_save, pre_save

SNAPSHOT = "_audit_loaded"


def _snapshot(instance: models.Model) -> dict[str, Any] | None:
    values = instance.__dict__
    snapshot = {}
    for field in instance._meta.concrete_fields:
        if field.attname not in values:
            return None  # deferred: diff against the database instead
        value = values[field.attname]
        snapshot[field.attname] = copy.deepcopy(value) if isinstance(value, dict | list) else value
    return snapshot


def _remember(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    instance.__dict__[SNAPSHOT] = _snapshot(instance)


def _log_update(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    from auditlog.context import auditlog_disabled
    from auditlog.receivers import _create_log_entry, log_update
    from django.conf import settings

    from audit.models import AuditLogEntry

    raw_disabled = getattr(settings, "AUDITLOG_DISABLE_ON_RAW_SAVE", False)
    if auditlog_disabled.get() or (kwargs.get("raw") and raw_disabled):
        return
    if instance._state.adding or instance.pk is None:
        return
    snapshot = instance.__dict__.get(SNAPSHOT)
    pk_name = instance._meta.pk.attname
    if snapshot is None or snapshot.get(pk_name) != instance.pk:
        log_update(sender, instance, **kwargs)
        return
    old = copy.copy(instance)
    old.__dict__.update(snapshot)
    _create_log_entry(
        action=AuditLogEntry.Action.UPDATE,
        instance=instance,
        sender=sender,
        diff_old=old,
        diff_new=instance,
        fields_to_check=kwargs.get("update_fields"),
        use_json_for_changes=settings.AUDITLOG_STORE_JSON_CHANGES,
    )


def _m2m_receiver(field_name: str) -> Any:
    """auditlog's m2m receiver, except that ``clear()`` records what was cleared.

    auditlog records a clear as the removal of every row of the related
    model, linked or not; here the linked keys are read just before the
    clear and those are recorded.
    """
    from auditlog.context import auditlog_disabled
    from auditlog.receivers import make_log_m2m_changes

    from audit.models import AuditLogEntry

    delegate = make_log_m2m_changes(field_name)

    def receiver(signal: Any, action: str, instance: models.Model, **kwargs: Any) -> None:
        if auditlog_disabled.get():
            return
        if action == "pre_clear":
            if kwargs["reverse"]:  # permission.roles.clear(): the roles linked to it
                linked = kwargs["model"]._default_manager.filter(**{field_name: instance})
            else:
                linked = getattr(instance, field_name).all()
            instance.__dict__[f"_audit_cleared_{field_name}"] = list(linked)
            return
        if action == "post_clear":
            cleared = instance.__dict__.pop(f"_audit_cleared_{field_name}", None)
            if cleared:
                AuditLogEntry.objects.log_m2m_changes(cleared, instance, "delete", field_name)
            return
        delegate(signal=signal, action=action, instance=instance, **kwargs)

    return receiver


def audit_model_register(model: type[models.Model], **options: Any) -> None:
    """Follow ``model`` in the audit trail: auditlog's registration, with the
    update diff and m2m clear receivers of this module. Other apps register
    their models through this, not through ``auditlog.register``."""
    from auditlog.receivers import log_update
    from auditlog.registry import auditlog
    from django.db.models.signals import m2m_changed

    auditlog.register(model, **options)
    for field_name in options.get("m2m_fields", ()):
        through = getattr(model, field_name).through
        m2m_changed.disconnect(
            sender=through, dispatch_uid=auditlog._m2m_dispatch_uid(m2m_changed, through)
        )
        m2m_changed.connect(
            _m2m_receiver(field_name),
            sender=through,
            dispatch_uid=f"audit.m2m:{through._meta.label}",
            weak=False,
        )
    pre_save.disconnect(sender=model, dispatch_uid=auditlog._dispatch_uid(pre_save, log_update))
    uid = f"audit.update:{model._meta.label}"
    pre_save.connect(_log_update, sender=model, dispatch_uid=uid, weak=False)
    post_init.connect(_remember, sender=model, dispatch_uid=uid, weak=False)
    post_save.connect(_remember, sender=model, dispatch_uid=uid, weak=False)


def register_models() -> None:
    from django.contrib.auth.models import Group

    from accounts.models import Membership, Organization, Permission, Role, User
    from compliance.models import JobRun

    audit_model_register(
        User,
        # The hash is a credential; last_login changes on every sign-in and
        # is recorded as a security event.
        exclude_fields=["password", "last_login"],
        m2m_fields={"groups", "user_permissions"},
    )
    audit_model_register(Organization)
    audit_model_register(Permission)
    audit_model_register(Role, m2m_fields={"permissions"})
    audit_model_register(Membership)
    # Django admin's own groups: staff access to admin is granted through them.
    audit_model_register(Group, m2m_fields={"permissions"})
    audit_model_register(JobRun)
    _register_detection_models()
    _register_evidence_room_models()


def _register_evidence_room_models() -> None:
    """An auditor's evidence requests and the files answering them: who asked
    for what, who answered and when is what the evidence room must prove.
    Registered here because compliance/apps.py belongs to the engine."""
    from auditlog.registry import auditlog

    from compliance.models import EvidenceRequest, EvidenceResponseFile

    for model in (EvidenceRequest, EvidenceResponseFile):
        if not auditlog.contains(model):
            audit_model_register(model)


def _register_detection_models() -> None:
    """The detection records people act on: alerts, incidents and the
    blocks and indicators that change who may reach the portal. The rows
    detection appends by itself (links, cursors, profiles) are listed as
    not audited in compliance/checks/audit_trail.py."""
    from audit.models import (
        Alert,
        BlockedAddress,
        ContainmentAction,
        Incident,
        IncidentCommunication,
        IncidentPhase,
        NotificationPreference,
        ThreatIndicator,
    )

    for model in (
        Alert,
        BlockedAddress,
        ContainmentAction,
        Incident,
        IncidentCommunication,
        IncidentPhase,
        NotificationPreference,
        ThreatIndicator,
    ):
        audit_model_register(model)
