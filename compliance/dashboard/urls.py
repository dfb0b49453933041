from django.urls import path

from compliance.dashboard import attestation_views, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("controls/", views.controls, name="dashboard-controls"),
    path("controls/<str:code>/", views.control_detail, name="dashboard-control"),
    path(
        "controls/<str:code>/attest",
        attestation_views.control_attest,
        name="dashboard-control-attest",
    ),
    path(
        "controls/<str:code>/attestations/<int:pk>/review",
        attestation_views.attestation_review,
        name="dashboard-attestation-review",
    ),
    path("gaps/", views.gaps, name="dashboard-gaps"),
    path("heatmap/<int:likelihood>/<int:impact>/", views.heatmap_cell, name="dashboard-heatmap"),
    path("alerts/", views.alerts, name="dashboard-alerts"),
    path("incidents/", views.incidents, name="dashboard-incidents"),
    path("findings/", views.findings, name="dashboard-findings"),
]
