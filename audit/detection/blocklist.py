"""The addresses the middleware refuses, held per process.

Each process keeps a snapshot of the active blocks and reloads it when the
version in the shared cache changes (every block and lift sets a new one), so
a block applies on every web process at its next request without a database
query per request.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import threading
import uuid

from django.core.cache import cache
from django.utils import timezone

from audit.models import BlockedAddress

_VERSION_KEY = "detection:blocklist:version"
_lock = threading.Lock()
_snapshot: dict[str, object] = {"version": None, "blocks": []}

Block = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, dt.datetime]


def invalidate() -> None:
    cache.set(_VERSION_KEY, uuid.uuid4().hex, None)


def _load() -> list[Block]:
    now = timezone.now()
    rows = BlockedAddress.objects.filter(lifted_at=None, expires_at__gt=now).values_list(
        "network", "expires_at"
    )
    return [(ipaddress.ip_network(network, strict=False), expires) for network, expires in rows]


def active_blocks() -> list[Block]:
    version = cache.get(_VERSION_KEY)
    with _lock:
        blocks = _snapshot["blocks"]
        assert isinstance(blocks, list)
        if version is None and blocks:
            # The cache lost its version while blocks are held: reload once
            # and stamp a new version so the other processes follow.
            version = uuid.uuid4().hex
            cache.set(_VERSION_KEY, version, None)
        if version is not None and version != _snapshot["version"]:
            blocks = _snapshot["blocks"] = _load()
            _snapshot["version"] = version
    # No version and nothing held: nothing was blocked since the cache
    # started, so no query is spent. The detection beat job re-stamps the
    # version when blocks exist (``version_ensure``), so a process that
    # started after a cache flush picks them up within minutes.
    return blocks


def version_ensure() -> None:
    """Stamp a version when blocks exist but the cache forgot it."""
    if cache.get(_VERSION_KEY) is None and (
        BlockedAddress.objects.filter(lifted_at=None, expires_at__gt=timezone.now()).exists()
    ):
        invalidate()


def blocking_network(ip: str | None) -> str | None:
    """The active block that covers ``ip``, as text, or None."""
    if not ip:
        return None
    blocks = active_blocks()
    if not blocks:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    now = timezone.now()
    for network, expires in blocks:
        if address.version == network.version and address in network and expires > now:
            return str(network)
    return None


def is_blocked(ip: str | None) -> bool:
    return blocking_network(ip) is not None
