from django.urls import path

from compliance.dashboard import evidence_views as views

urlpatterns = [
    path("", views.room, name="evidence-room"),
    path("controls/<str:code>/", views.control, name="evidence-control"),
    path("attestations/<int:pk>/file", views.attestation_file, name="evidence-attestation-file"),
    path("requests/", views.requests, name="evidence-requests"),
    path("liaison", views.liaison_designate, name="evidence-liaison"),
    path("requests/files/<int:pk>", views.response_file, name="evidence-response-file"),
    path("requests/<uuid:public_id>/answer", views.request_answer, name="evidence-answer"),
    path("requests/<uuid:public_id>/close", views.request_close, name="evidence-close"),
    path("requests/<uuid:public_id>/reassign", views.request_reassign, name="evidence-reassign"),
]
