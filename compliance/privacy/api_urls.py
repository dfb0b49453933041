from django.urls import path

from compliance.privacy import api

urlpatterns = [
    path("retention/policy", api.RetentionPolicyListView.as_view(), name="retention-policy"),
    path(
        "retention/policy/<str:data_type>",
        api.RetentionPolicyDetailView.as_view(),
        name="retention-policy-detail",
    ),
    path("retention/execute", api.RetentionExecuteView.as_view(), name="retention-execute"),
    path(
        "certificates/<uuid:public_id>.pdf",
        api.CertificatePdfView.as_view(),
        name="deletion-certificate-pdf",
    ),
    path("gdpr/export/<uuid:public_id>", api.GdprExportView.as_view(), name="gdpr-export"),
    path("gdpr/delete/<uuid:public_id>", api.GdprDeleteView.as_view(), name="gdpr-delete"),
    path("legal-holds", api.LegalHoldListView.as_view(), name="legal-holds"),
    path(
        "legal-holds/<uuid:public_id>/release",
        api.LegalHoldReleaseView.as_view(),
        name="legal-hold-release",
    ),
    path("privacy/requests", api.PrivacyRequestView.as_view(), name="privacy-requests"),
]
