"""The dashboard's one side effect: pushing fresh panels to open dashboards."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.template.loader import render_to_string

from compliance.dashboard import selectors

logger = logging.getLogger(__name__)

GROUP = "dashboard"


PANELS = ("score", "alerts")


def dashboard_panels_render(names: tuple[str, ...] = PANELS) -> dict[str, str]:
    """The live panels' HTML, as the page itself renders them.

    Each panel reads stored rows only (the run's figures, the active alerts):
    a few queries, never a recomputation of the score.
    """
    panels: dict[str, str] = {}
    if "score" in names:
        panels["score"] = render_to_string(
            "dashboard/_score_panel.html", {"score": selectors.score_panel()}
        )
    if "alerts" in names:
        panels["alerts"] = render_to_string(
            "dashboard/_alerts_panel.html", {"alerts": selectors.alerts_panel()}
        )
    return panels


def dashboard_broadcast(*, reason: str = "update", panels: tuple[str, ...] = PANELS) -> None:
    """Send the named panels (score and alerts by default) to every open
    dashboard, and drop the cached page so the next load shows them too.

    Called when a run finishes and when detection raises an alert. A failure
    to reach the channel layer never fails the caller: the next page load
    shows the same figures.
    """
    selectors.dashboard_page_forget()
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        rendered = dashboard_panels_render(panels)
        async_to_sync(layer.group_send)(
            GROUP, {"type": "dashboard.update", "reason": reason, "panels": rendered}
        )
    except Exception:
        logger.exception("dashboard.broadcast_failed", extra={"reason": reason})
        return
    logger.info("dashboard.broadcast", extra={"reason": reason})


def dashboard_alerts_raised() -> None:
    """Push the alerts panel after detection committed new alerts.

    Detection calls this through transaction.on_commit, once per batch of
    alerts, so an open dashboard shows them without a reload. Only the alerts
    panel is sent: the score has not changed.
    """
    dashboard_broadcast(reason="alert_raised", panels=("alerts",))


def dashboard_alerts_changed() -> None:
    """Push the alerts panel after an alert changed status (acknowledged,
    resolved, dismissed as a false positive, reopened)."""
    dashboard_broadcast(reason="alert_status_changed", panels=("alerts",))
