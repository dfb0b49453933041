"""Known-bad addresses and ranges, imported offline from a plain file.

File format (UTF-8 text, one entry a line)::

    # source: <who published the list>
    # date: YYYY-MM-DD
    # any other comment line
    203.0.113.7            scanner        seen brute-forcing SSH
    198.51.100.0/24        botnet
    2001:db8:bad::/48

The two header lines are required; each entry is an address or a CIDR
range, then an optional category (one word) and an optional note. Blank
lines and lines starting with ``#`` are skipped.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import ipaddress
import logging
import threading
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.core.cache import cache
from django.db import transaction

from audit.detection.addresses import ipv4_int
from audit.models import ThreatIndicator

logger = logging.getLogger(__name__)

_CACHE_VERSION_KEY = "detection:threatintel:version"


class ThreatListError(ValueError):
    """The file is not in the documented format; the message names the line."""


@dataclass(frozen=True)
class ThreatEntry:
    network: str
    category: str
    note: str


@dataclass(frozen=True)
class ThreatList:
    source: str
    listed_on: dt.date
    entries: tuple[ThreatEntry, ...]


def threat_list_parse(text: str) -> ThreatList:
    """Parse a threat list; raise ThreatListError on the first bad line."""
    source = ""
    listed_on: dt.date | None = None
    entries: list[ThreatEntry] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            header = line[1:].strip()
            name, _, value = header.partition(":")
            if name.strip().lower() == "source":
                source = value.strip()
            elif name.strip().lower() == "date":
                try:
                    listed_on = dt.date.fromisoformat(value.strip())
                except ValueError:
                    raise ThreatListError(f"line {number}: date must be YYYY-MM-DD") from None
            continue
        parts = line.split(None, 2)
        try:
            network = ipaddress.ip_network(parts[0], strict=False)
        except ValueError:
            raise ThreatListError(f"line {number}: {parts[0]!r} is not an address") from None
        category = parts[1] if len(parts) > 1 else ""
        note = parts[2] if len(parts) > 2 else ""
        entries.append(ThreatEntry(str(network), category[:40], note[:200]))
    if not source:
        raise ThreatListError("the header line '# source: ...' is missing")
    if listed_on is None:
        raise ThreatListError("the header line '# date: YYYY-MM-DD' is missing")
    return ThreatList(source[:200], listed_on, tuple(entries))


@transaction.atomic
def threat_list_import(*, path: Path, replace: bool = True) -> dict[str, int]:
    """Load a threat list file; with ``replace`` the source's old entries go."""
    parsed = threat_list_parse(path.read_text(encoding="utf-8"))
    removed = 0
    if replace:
        removed, _ = ThreatIndicator.objects.filter(source=parsed.source).delete()
    rows = []
    for entry in parsed.entries:
        network = ipaddress.ip_network(entry.network)
        rows.append(
            ThreatIndicator(
                network=entry.network,
                first_int=Decimal(int(network.network_address)),
                last_int=Decimal(int(network.broadcast_address)),
                category=entry.category,
                note=entry.note,
                source=parsed.source,
                listed_on=parsed.listed_on,
            )
        )
    ThreatIndicator.objects.bulk_create(rows, ignore_conflicts=True)
    transaction.on_commit(_invalidate)
    logger.info(
        "threat_list.imported",
        extra={"source": parsed.source, "entries": len(rows), "removed": removed},
    )
    return {"entries": len(rows), "removed": removed}


def _invalidate() -> None:
    cache.set(_CACHE_VERSION_KEY, uuid.uuid4().hex, None)


class ThreatMatcher:
    """Sorted ranges per address family, searched with bisect."""

    def __init__(self, rows: list[tuple[str, int, int, str, str]]) -> None:
        self._by_version: dict[int, tuple[list[int], list[tuple[int, str, str, str]]]] = {}
        grouped: dict[int, list[tuple[int, int, str, str, str]]] = {4: [], 6: []}
        for network, first, last, category, source in rows:
            version = ipaddress.ip_network(network).version
            grouped[version].append((first, last, network, category, source))
        for family, items in grouped.items():
            items.sort()
            starts = [item[0] for item in items]
            rest = [(item[1], item[2], item[3], item[4]) for item in items]
            self._by_version[family] = (starts, rest)
        self.empty = not rows

    def match(self, ip: str | None) -> dict[str, str] | None:
        if not ip or self.empty:
            return None
        parsed = _address(ip)
        if parsed is None:
            return None
        version, value = parsed
        starts, rest = self._by_version[version]
        index = bisect.bisect_right(starts, value) - 1
        # Ranges may nest, so walk back over every range that starts before
        # the address; threat lists are small enough for that.
        while index >= 0:
            last, network, category, source = rest[index]
            if value <= last:
                return {"network": network, "category": category, "source": source}
            index -= 1
        return None


@functools.lru_cache(maxsize=65536)
def _address(ip: str) -> tuple[int, int] | None:
    as_int = ipv4_int(ip)
    if as_int is not None:
        return 4, as_int
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    return address.version, int(address)


_local = threading.local()


def threat_matcher() -> ThreatMatcher:
    """The matcher for the current indicators, reloaded when a list changes."""
    version = cache.get(_CACHE_VERSION_KEY)
    held = getattr(_local, "matcher", None)
    if held is not None and held[0] == version and version is not None:
        return held[1]
    rows = [
        (network, int(first), int(last), category, source)
        for network, first, last, category, source in ThreatIndicator.objects.values_list(
            "network", "first_int", "last_int", "category", "source"
        )
    ]
    matcher = ThreatMatcher(rows)
    if version is None:
        version = uuid.uuid4().hex
        cache.set(_CACHE_VERSION_KEY, version, None)
    _local.matcher = (version, matcher)
    return matcher
