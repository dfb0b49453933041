from django.urls import path

from audit import views

app_name = "audit"

urlpatterns = [
    path("", views.index, name="index"),
    path("log/", views.audit_log, name="log"),
    path("log/export.csv", views.audit_log_export, name="log-export"),
    path("log/<int:seq>/", views.audit_log_entry, name="log-entry"),
    path("events/", views.security_events, name="events"),
    path("events/export.csv", views.security_events_export, name="events-export"),
    path("events/<uuid:public_id>/", views.security_event, name="event"),
]
