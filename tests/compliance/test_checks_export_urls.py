"""A URL configuration for one check's mend case: the deployment's own URLs
plus a data-export route, as the privacy work will add it."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from cloudexpress.urls import urlpatterns as deployment_patterns


def export(request: HttpRequest, user_id: str) -> JsonResponse:
    return JsonResponse({"user": user_id})


urlpatterns = [
    path("api/compliance/gdpr/export/<uuid:user_id>", export, name="gdpr-export"),
    *deployment_patterns,
]
