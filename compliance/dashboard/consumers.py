"""The dashboard's WebSocket: signed-in holders of controls.view receive the
score and alerts panels whenever dashboard_broadcast() sends them."""

from __future__ import annotations

import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from cloudexpress.wsorigin import scope_is_secure
from compliance.dashboard.services import GROUP

logger = logging.getLogger(__name__)

VIEW_PERMISSION = "controls.view"


def _may_view(user: Any) -> bool:
    from accounts.authorization import user_has_perm

    if user is None or not user.is_authenticated:
        return False
    return user_has_perm(user, VIEW_PERMISSION)


def _still_may_view(user_id: int | None, session_key: str | None) -> bool:
    """Decide again from fresh rows: the user read at connect time is stale,
    and the session the socket was opened with may have ended since. The
    session check reads the user with the session row: no extra query."""
    from accounts.auth.sessions import session_user_signed_in

    return _may_view(session_user_signed_in(session_key=session_key, user_id=user_id))


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    """Receive-only for the browser: it never sends anything the server acts on."""

    session_key: str | None = None

    async def connect(self) -> None:
        # Production serves the socket over TLS only: wss itself, or the TLS
        # proxy's header as SECURE_PROXY_SSL_HEADER names it.
        if settings.PRODUCTION and not scope_is_secure(self.scope):
            await self.close(code=4400)
            return
        user = self.scope.get("user")
        if not await database_sync_to_async(_may_view)(user):
            logger.warning(
                "dashboard.socket_refused", extra={"user_id": getattr(user, "pk", None)}
            )
            await self.close(code=4403)
            return
        # The key the cookie carried, to tell on each push whether the
        # session still signs the user in.
        self.session_key = getattr(self.scope.get("session"), "session_key", None)
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The browser has nothing to say; ignore whatever it sends.
        return

    async def dashboard_update(self, event: dict[str, Any]) -> None:
        # An auditor's access is time-boxed, a user can be terminated, and a
        # session can be signed out in another tab, revoked or left idle while
        # the page stays open: each push is allowed afresh, and a socket whose
        # user or session may no longer see the dashboard is closed instead.
        user = self.scope.get("user")
        user_id = getattr(user, "pk", None)
        if not await database_sync_to_async(_still_may_view)(user_id, self.session_key):
            logger.warning("dashboard.socket_closed_access_ended", extra={"user_id": user_id})
            await self.close(code=4403)
            return
        await self.send_json({"reason": event.get("reason", ""), "panels": event["panels"]})
