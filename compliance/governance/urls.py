"""Pages of the governance registers, under /governance/."""

from __future__ import annotations

from django.urls import path

from compliance.governance import views

urlpatterns = [
    path("", views.index, name="governance-index"),
    path(
        "policies/<uuid:public_id>/acknowledge/",
        views.policy_acknowledge,
        name="governance-policy-acknowledge",
    ),
    path("<slug:register>/", views.register_list, name="governance-list"),
    path("<slug:register>/<uuid:public_id>/", views.register_detail, name="governance-detail"),
]
