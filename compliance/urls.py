from django.urls import path

from compliance import views

urlpatterns = [
    path("", views.overview, name="compliance-overview"),
]
