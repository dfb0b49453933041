from __future__ import annotations

import functools

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, object]:
    from cloudexpress.navigation import nav_links_for

    return {
        "portal_contacts": settings.PORTAL_CONTACTS,
        "portal_production": settings.PRODUCTION,
        # A callable: the template calls it only where it draws the menu,
        # so pages without base.html pay nothing.
        "nav_links": functools.partial(nav_links_for, getattr(request, "user", None)),
    }
