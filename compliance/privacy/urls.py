from django.urls import path

from compliance.privacy import views

urlpatterns = [
    path("profile/", views.profile_page, name="privacy-profile"),
    path("consent/", views.consent_page, name="privacy-consent"),
    path("notice/", views.notice_page, name="privacy-notice"),
]
