"""The dashboard's one side effect: pushing fresh panels to open dashboards."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.template.loader import render_to_string

from compliance.dashboard import selectors

logger = logging.getLogger(__name__)

GROUP = "dashboard"


def dashboard_panels_render() -> dict[str, str]:
    """The live panels' HTML, as the page itself renders them."""
    return {
        "score": render_to_string(
            "dashboard/_score_panel.html", {"score": selectors.score_panel()}
        ),
        "alerts": render_to_string(
            "dashboard/_alerts_panel.html", {"alerts": selectors.alerts_panel()}
        ),
    }


def dashboard_broadcast(*, reason: str = "update") -> None:
    """Send the score and alerts panels to every open dashboard.

    Called when a run finishes and when detection raises an alert. A failure
    to reach the channel layer never fails the caller: the next page load
    shows the same figures.
    """
    selectors.dashboard_page_forget()
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        panels = dashboard_panels_render()
        async_to_sync(layer.group_send)(
            GROUP, {"type": "dashboard.update", "reason": reason, "panels": panels}
        )
    except Exception:
        logger.exception("dashboard.broadcast_failed", extra={"reason": reason})
        return
    logger.info("dashboard.broadcast", extra={"reason": reason})
