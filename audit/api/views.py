"""API of the audit trail: the security event list and the audit log, both
filtered like the pages and paginated by cursor (stable while rows arrive)."""

from __future__ import annotations

from typing import Any

from django import forms
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, serializers
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from audit import selectors
from audit.forms import AuditLogFilterForm, SecurityEventFilterForm
from audit.models import AuditLogEntry, SecurityEvent
from audit.services import permission_denied_record


class NewestFirst(CursorPagination):
    ordering = "-seq"
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"


def _requires(permission: str) -> type[BasePermission]:
    class Allowed(BasePermission):
        def has_permission(self, request: Request, view: Any) -> bool:
            if not request.user or not request.user.is_authenticated:
                return False  # 401 from the authentication classes
            if selectors.audit_access_allowed(request.user, permission):
                return True
            permission_denied_record(user=request.user, permission=permission, path=request.path)
            return False

    Allowed.__name__ = f"Requires_{permission.replace('.', '_')}"
    return Allowed


def _filters(form_class: type[forms.Form], request: Request) -> dict[str, Any]:
    form = form_class(request.query_params)
    if not form.is_valid():
        raise exceptions.ValidationError(
            {key: [str(e) for e in errors] for key, errors in form.errors.items()}
        )
    return form.cleaned_data


class SecurityEventSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    actor: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="public_id", read_only=True
    )
    target_user: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="public_id", read_only=True
    )
    organization: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="public_id", read_only=True
    )

    class Meta:
        model = SecurityEvent
        fields = [
            "id",
            "seq",
            "occurred_at",
            "event_type",
            "severity",
            "actor",
            "system_actor",
            "target_user",
            "organization",
            "ip",
            "user_agent",
            "request_id",
            "detail",
            "risk_score",
            "row_hash",
        ]
        read_only_fields = fields


class AuditLogEntrySerializer(serializers.ModelSerializer):
    actor: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="public_id", read_only=True
    )
    object_type = serializers.SerializerMethodField()
    action = serializers.CharField(source="get_action_display", read_only=True)

    class Meta:
        model = AuditLogEntry
        fields = [
            "seq",
            "timestamp",
            "action",
            "object_type",
            "object_pk",
            "object_repr",
            "changes",
            "actor",
            "system_actor",
            "remote_addr",
            "user_agent",
            "cid",
            "row_hash",
        ]
        read_only_fields = fields

    def get_object_type(self, entry: AuditLogEntry) -> str:
        return f"{entry.content_type.app_label}.{entry.content_type.model}"


def _parameters(form_class: type[forms.Form]) -> list[OpenApiParameter]:
    params = []
    for name, field in form_class.base_fields.items():
        kind = OpenApiTypes.STR
        if isinstance(field, forms.DateTimeField):
            kind = OpenApiTypes.DATETIME
        elif isinstance(field, forms.TypedChoiceField):
            kind = OpenApiTypes.INT
        choices = [c[0] for c in getattr(field, "choices", []) if c[0] != ""] or None
        params.append(
            OpenApiParameter(
                name,
                type=kind,
                required=False,
                description=str(field.help_text or field.label or name),
                enum=choices,
            )
        )
    return params


class SecurityEventList(generics.ListAPIView):
    """Security events, newest first."""

    serializer_class = SecurityEventSerializer
    pagination_class = NewestFirst
    permission_classes = [_requires(selectors.SECURITY_EVENTS_VIEW)]

    def get_queryset(self) -> Any:
        return selectors.security_events_filtered(_filters(SecurityEventFilterForm, self.request))

    @extend_schema(
        operation_id="security_events_list", parameters=_parameters(SecurityEventFilterForm)
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)


class AuditLogList(generics.ListAPIView):
    """Audit log entries (model changes), newest first."""

    serializer_class = AuditLogEntrySerializer
    pagination_class = NewestFirst
    permission_classes = [_requires(selectors.AUDIT_LOG_VIEW)]

    def get_queryset(self) -> Any:
        return selectors.audit_entries_filtered(_filters(AuditLogFilterForm, self.request))

    @extend_schema(operation_id="audit_log_list", parameters=_parameters(AuditLogFilterForm))
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)
