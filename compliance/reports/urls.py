from django.urls import path

from compliance.reports import views

app_name = "reports"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("export/<slug:table>.<slug:fmt>", views.export, name="export"),
    path("packs/", views.packs, name="packs"),
    path("packs/<uuid:public_id>/", views.pack_detail, name="pack"),
    path("packs/<uuid:public_id>/status", views.pack_status, name="pack-status"),
    path("packs/<uuid:public_id>/download", views.pack_download, name="pack-download"),
    path("verify/", views.verify, name="verify"),
]
