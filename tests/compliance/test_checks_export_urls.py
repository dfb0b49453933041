"""A URL configuration for one check's break case: a deployment whose URLs
lack the data-export route (the real configuration routes it)."""

from django.http import HttpRequest, JsonResponse
from django.urls import path


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [
    path("health", health, name="health"),
]
