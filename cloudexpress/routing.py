"""WebSocket routes, beside cloudexpress/urls.py for HTTP."""

from django.urls import path

from compliance.dashboard.consumers import DashboardConsumer

websocket_urlpatterns = [
    path("ws/dashboard/", DashboardConsumer.as_asgi()),
]
