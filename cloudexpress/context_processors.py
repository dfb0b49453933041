from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, object]:
    return {"portal_contacts": settings.PORTAL_CONTACTS, "portal_production": settings.PRODUCTION}
