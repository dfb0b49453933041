"""The compliance API, mounted under /api/compliance/; no trailing slashes."""

from django.urls import path

from compliance.api import views

urlpatterns = [
    path("soc2/status", views.Soc2StatusView.as_view(), name="api-soc2-status"),
    path("soc2/report", views.Soc2ReportView.as_view(), name="api-soc2-report"),
    path("soc2/controls", views.Soc2ControlsView.as_view(), name="api-soc2-controls"),
    path("soc2/readiness", views.Soc2ReadinessView.as_view(), name="api-soc2-readiness"),
    path("soc2/history", views.Soc2HistoryView.as_view(), name="api-soc2-history"),
    path("security/report", views.SecurityReportView.as_view(), name="api-security-report"),
]
