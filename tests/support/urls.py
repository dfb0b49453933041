"""Views mounted only when DJANGO_ENV=test, to exercise error paths."""

from django.urls import path

from tests.support import planted, views

urlpatterns = [
    path("api/boom", views.BoomView.as_view()),
    path("api/conflict", views.ConflictView.as_view()),
    path("api/throttled", views.ThrottledView.as_view()),
    path("api/validate", views.ValidateView.as_view()),
    path("api/planted", planted.PlantedLookupView.as_view()),
]
