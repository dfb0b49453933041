from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django_otp.admin import OTPAdminSite
from drf_spectacular.views import SpectacularAPIView

from accounts import org_urls
from accounts.auth import api_views as auth_api
from audit.detection import urls as detection_urls
from cloudexpress import certificates, views
from cloudexpress.api import schema as _schema  # noqa: F401  (registers the auth schemes)
from cloudexpress.api import views as api_views
from cloudexpress.api.docs import ApiDocsView
from compliance.reports.api import ReportPackAPIView

# Admin asks for the second factor at its own sign-in (django-otp).
admin.site.__class__ = OTPAdminSite

api_patterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", ApiDocsView.as_view(), name="api-docs"),
    path("me", api_views.MeView.as_view(), name="api-me"),
    path("compliance/", include("audit.api.urls")),
    path("", include("accounts.api.urls")),
    path("compliance/", include("compliance.governance.urls_api")),
    path("compliance/", include("compliance.api.urls")),
    path(
        "compliance/reports/pack", ReportPackAPIView.as_view(), name="api-compliance-reports-pack"
    ),
    path("compliance/security/", include(detection_urls.api_urlpatterns)),
    path("compliance/", include("compliance.privacy.api_urls")),
    path("auth/token", auth_api.TokenObtainView.as_view(), name="api-token"),
    path("auth/token/refresh", auth_api.TokenRefreshView.as_view(), name="api-token-refresh"),
    path("auth/token/revoke", auth_api.TokenRevokeView.as_view(), name="api-token-revoke"),
    path("auth/api-keys", auth_api.ApiKeyListCreateView.as_view(), name="api-keys"),
    path("auth/service-keys", auth_api.ServiceApiKeyCreateView.as_view(), name="api-service-keys"),
    path(
        "auth/api-keys/<uuid:key_id>/rotate",
        auth_api.ApiKeyRotateView.as_view(),
        name="api-key-rotate",
    ),
    path(
        "compliance/security/policy",
        auth_api.PasswordPolicyView.as_view(),
        name="api-security-policy",
    ),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("contacts/", views.contacts, name="contacts"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
    path("operations/", views.operations, name="operations"),
    path(".well-known/cloudexpress-pins.json", certificates.pins_view, name="tls-pins"),
    path("accounts/", include("accounts.urls")),
    path("audit/", include("audit.urls")),
    path("orgs/", include("accounts.org_urls")),
    path("invitations/", include(org_urls.invitation_patterns)),
    path("governance/", include("compliance.governance.urls")),
    path("compliance/", include("compliance.urls")),
    path("dashboard/", include("compliance.dashboard.urls")),
    path("evidence/", include("compliance.dashboard.evidence_urls")),
    path("reports/", include("compliance.reports.urls")),
    path("security/", include(detection_urls.urlpatterns)),
    path("privacy/", include("compliance.privacy.urls")),
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
]

if settings.TESTING or settings.PLANTED_FLAW:
    urlpatterns += [path("__test__/", include("tests.support.urls"))]

# Last: any other /api/ path answers JSON 404, never an HTML page.
urlpatterns += [re_path(r"^api/.*$", api_views.api_not_found)]

handler400 = "cloudexpress.views.error_400"
handler403 = "cloudexpress.views.error_403"
handler404 = "cloudexpress.views.error_404"
handler500 = "cloudexpress.views.error_500"
# allauth answers its per-address page limits through this handler.
handler429 = "accounts.auth.views.rate_limited"
