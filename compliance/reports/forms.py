from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.conf import settings
from django.http import QueryDict

from cloudexpress.security import upload_limit_label
from compliance.models import ReportPack
from compliance.reports import periods

DATE_INVALID = "Not a date: write it as YYYY-MM-DD."


class PackRequestForm(forms.Form):
    kind = forms.ChoiceField(choices=ReportPack.Kind.choices, label="Pack")
    period_start = forms.DateField(
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": DATE_INVALID},
    )
    period_end = forms.DateField(
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": DATE_INVALID},
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("period_start"), cleaned.get("period_end")
        if start and end:
            # Refused here, before a pack row exists: a period in the future
            # or without a run would end as a failed or a misleading pack.
            fields = {periods.START: "period_start", periods.END: "period_end"}
            for end_name, messages in periods.report_period_problems(start, end).items():
                for message in messages:
                    self.add_error(fields[end_name], message)
        return cleaned


class ReportPeriodForm(forms.Form):
    """The period of the report pages and exports, from ``?start=&end=``
    (``?from=&to=`` as the API names them); a missing end is today and a
    missing start the default length before the end."""

    start = forms.DateField(
        label="From",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": DATE_INVALID},
    )
    end = forms.DateField(
        label="To",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": DATE_INVALID},
    )

    def __init__(self, query: QueryDict) -> None:
        data = {
            "start": query.get("start") or query.get("from") or "",
            "end": query.get("end") or query.get("to") or "",
        }
        super().__init__(data)

    @property
    def was_given(self) -> bool:
        return bool(self.data["start"] or self.data["end"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        start, end = periods.report_period_fill(cleaned.get("start"), cleaned.get("end"))
        for end_name, messages in periods.report_period_problems(start, end).items():
            for message in messages:
                self.add_error(end_name, message)
        cleaned["period"] = (start, end)
        return cleaned

    def period(self) -> tuple[date, date] | None:
        """Return the valid period asked for (the default if none), or None."""
        if not self.is_valid():
            return None
        period: tuple[date, date] = self.cleaned_data["period"]
        return period


class PackVerifyForm(forms.Form):
    file = forms.FileField(label="PDF pack")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = f"Up to {upload_limit_label()}."

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > settings.MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {upload_limit_label()}, the largest upload "
                "the portal accepts."
            )
        return upload
