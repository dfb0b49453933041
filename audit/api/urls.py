from django.urls import path

from audit.api import views

urlpatterns = [
    path("security/events", views.SecurityEventList.as_view(), name="api-security-events"),
    path("audit-log", views.AuditLogList.as_view(), name="api-audit-log"),
]
