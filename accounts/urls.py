from allauth.account import views as account_views
from django.urls import include, path

from accounts.auth import views as auth_views

urlpatterns = [
    # The name the templates and LOGIN_URL have always used.
    path("login/", account_views.login, name="login"),
    path("logout/", account_views.logout, name="logout"),
    path("2fa/", auth_views.second_factor, name="auth_second_factor"),
    path("security/mfa/", auth_views.mfa_settings, name="auth_mfa_settings"),
    path("security/password-policy/", auth_views.password_policy, name="auth_password_policy"),
    path("sessions/", auth_views.session_list, name="auth_sessions"),
    path(
        "sessions/<str:session_id>/revoke", auth_views.session_revoke, name="auth_session_revoke"
    ),
    path("orgs/<slug:org_slug>/ip-allowlist/", auth_views.ip_allowlist, name="auth_ip_allowlist"),
    path("github/link/", auth_views.github_link, name="auth_github_link"),
    path("", include("allauth.urls")),
]
