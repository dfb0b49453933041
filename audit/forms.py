"""Filters of the audit log and the security event list, shared by the
pages, the CSV exports and the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from audit.models import AuditLogEntry, SecurityEvent

# Real offsets lie within 14 hours of UTC; PostgreSQL refuses some
# that Python accepts (up to 24 hours), which must be a 400, not a 500.
_MAX_OFFSET = dt.timedelta(hours=14)


class UtcDateTimeField(forms.DateTimeField):
    """A date and time whose offset is a real one, given back in UTC."""

    def to_python(self, value: Any) -> dt.datetime | None:
        result = super().to_python(value)
        if result is None:
            return None
        offset = result.utcoffset()
        if offset is not None and abs(offset) > _MAX_OFFSET:
            raise forms.ValidationError(
                "The time zone offset must lie within 14 hours of UTC.", code="invalid"
            )
        try:
            return result.astimezone(dt.UTC)
        except OverflowError:
            raise forms.ValidationError(
                "The date lies outside the supported range.", code="invalid"
            ) from None


class _Filters(forms.Form):
    actor = forms.CharField(
        required=False, max_length=254, help_text="E-mail address or public id of the actor."
    )
    date_from = UtcDateTimeField(
        required=False,
        help_text="From this time, UTC (inclusive).",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    date_to = UtcDateTimeField(
        required=False,
        help_text="Up to this time, UTC (exclusive).",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start >= end:
            raise forms.ValidationError("The start of the range must be before its end.")
        return cleaned


class AuditLogFilterForm(_Filters):
    action = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "Any action"), *AuditLogEntry.Action.choices],
    )
    object_type = forms.CharField(
        required=False, max_length=100, help_text="app_label.model, e.g. accounts.user."
    )
    object_pk = forms.CharField(required=False, max_length=255)


class SecurityEventFilterForm(_Filters):
    event_type = forms.ChoiceField(
        required=False, choices=[("", "Any type"), *SecurityEvent.Type.choices]
    )
    severity = forms.ChoiceField(
        required=False, choices=[("", "Any severity"), *SecurityEvent.Severity.choices]
    )
    target = forms.CharField(
        required=False, max_length=254, help_text="E-mail address or public id of the target."
    )
