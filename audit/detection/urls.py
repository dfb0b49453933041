from django.urls import path

from audit.detection import api, views

api_urlpatterns = [
    path("alerts", api.AlertListView.as_view(), name="api-security-alerts"),
    path(
        "alerts/<uuid:public_id>/status",
        api.AlertStatusView.as_view(),
        name="api-security-alert-status",
    ),
    path(
        "containment/<int:action_id>/reverse",
        api.ContainmentReverseView.as_view(),
        name="api-security-containment-reverse",
    ),
    path("ingest", api.IngestView.as_view(), name="api-security-ingest"),
    path("incidents", api.IncidentCreateView.as_view(), name="api-security-incidents"),
    path(
        "incidents/<uuid:public_id>/actions",
        api.IncidentActionView.as_view(),
        name="api-security-incident-action",
    ),
]

urlpatterns = [
    path("alerts/", views.alert_list, name="security-alerts"),
    path("alerts/<uuid:public_id>/", views.alert_detail, name="security-alert"),
    path("incidents/", views.incident_list, name="security-incidents"),
    path("incidents/<uuid:public_id>/", views.incident_detail, name="security-incident"),
    path("notifications/", views.notification_list, name="security-notifications"),
]
