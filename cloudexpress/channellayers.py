"""The embedded default's channel layer: channels' in-memory layer, with its
group messages relayed between the processes of `make run` through a
directory under the data directory.

On the embedded default the web server, the Celery worker and beat are
separate processes and there is no Redis. An in-memory layer reaches only
the process it lives in, so an alert raised by detection in the worker never
reached a dashboard open on the web server, which still said "Live updates:
on". Here every group message is delivered at once to the sending process's
own members and also written to the relay directory as one small file; a
process with members (the web server, while a dashboard is open) reads the
files the other processes wrote every ``poll_seconds`` and delivers them to
its members. No server is added: the directory sits beside the SQLite
database and the file cache.

Only group messages travel between processes: a channel name belongs to the
process that made it, as with any in-memory layer. Messages must be JSON
(the dashboard's are strings). Production uses the Redis layer instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

from channels.layers import InMemoryChannelLayer

logger = logging.getLogger(__name__)


class InMemoryRelayChannelLayer(InMemoryChannelLayer):
    """An in-memory layer whose group messages also reach the other
    processes sharing ``directory``."""

    def __init__(
        self,
        directory: str,
        poll_seconds: float = 0.5,
        keep_seconds: float = 60,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.directory = Path(directory)
        self.poll_seconds = poll_seconds
        self.keep_seconds = keep_seconds
        # Names this process's own files, which it has delivered already.
        self.sender = uuid.uuid4().hex
        self.poller: asyncio.Task[None] | None = None
        self.seen: set[str] = set()

    # --- the channel layer API ---------------------------------------------

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await super().group_send(group, message)
        try:
            await asyncio.to_thread(self.relay_write, group, message)
        except (OSError, TypeError, ValueError):
            # Like a Redis outage: this process's members have the message,
            # the others see the same figures on their next page load.
            logger.exception("channels.relay_write_failed", extra={"group": group})

    async def group_add(self, group: str, channel: str) -> None:
        await super().group_add(group, channel)
        await self.poller_ensure()

    # --- the relay ------------------------------------------------------------

    async def poller_ensure(self) -> None:
        """Start reading the other processes' messages, on this loop, unless
        already reading. Only what is written from now on is delivered."""
        loop = asyncio.get_running_loop()
        if self.poller is not None and not self.poller.done() and self.poller.get_loop() is loop:
            return
        self.seen = set(await asyncio.to_thread(self.relay_names))
        self.poller = loop.create_task(self.poll())

    async def poll(self) -> None:
        """Deliver the other processes' group messages to this process's
        members while it has any; a later group_add starts again."""
        while self.groups:
            await asyncio.sleep(self.poll_seconds)
            try:
                messages = await asyncio.to_thread(self.relay_read_new)
            except OSError:
                logger.exception("channels.relay_read_failed")
                continue
            for group, message in messages:
                await super().group_send(group, message)

    def relay_names(self) -> list[str]:
        """The relayed messages' file names, oldest first (the names start
        with the time they were written)."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        return sorted(name for name in names if name.endswith(".json"))

    def relay_write(self, group: str, message: dict[str, Any]) -> None:
        """Write one group message where the other processes read, whole or
        not at all (a reader never sees half a file), and drop old ones."""
        body = json.dumps({"group": group, "message": message}).encode()
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{self.sender}-{uuid.uuid4().hex[:8]}.json"
        partial = self.directory / f".{name}.partial"
        # Readable by this user only: panels can name people and addresses.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(body)
        os.replace(partial, self.directory / name)
        self.relay_prune(self.relay_names())

    def relay_read_new(self) -> list[tuple[str, dict[str, Any]]]:
        """The group messages other processes wrote since the last read."""
        names = self.relay_names()
        new = [name for name in names if name not in self.seen]
        # Forget the names pruned since: the set stays as small as the
        # directory.
        self.seen = set(names)
        messages = []
        for name in new:
            if f"-{self.sender}-" in name:
                continue
            try:
                data = json.loads((self.directory / name).read_bytes())
            except FileNotFoundError:
                continue
            except ValueError:
                logger.warning("channels.relay_message_unreadable", extra={"file": name})
                continue
            messages.append((data["group"], data["message"]))
        self.relay_prune(names)
        return messages

    def relay_prune(self, names: list[str]) -> None:
        """Delete messages older than ``keep_seconds``: every reader has
        long had them, and the directory must not grow while no dashboard
        is open to read it."""
        oldest_kept = time.time_ns() - int(self.keep_seconds * 1e9)
        for name in names:
            written = name.split("-", 1)[0]
            if written.isdigit() and int(written) < oldest_kept:
                (self.directory / name).unlink(missing_ok=True)
