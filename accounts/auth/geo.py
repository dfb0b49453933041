"""Country of an address from an offline database file; never a network call.

``GEOIP_DATABASE_PATH`` names a CSV of ``first_address,last_address,country``
rows (IPv4 or IPv6, ISO 3166-1 alpha-2), such as a converted free country
database. With no path configured, the lookup is skipped and answers None.
"""

from __future__ import annotations

import bisect
import csv
import ipaddress
import logging
from functools import lru_cache
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)


@lru_cache(maxsize=2)
def _load(path: str) -> dict[int, tuple[list[int], list[int], list[str]]]:
    tables: dict[int, list[tuple[int, int, str]]] = {4: [], 6: []}
    with Path(path).open(newline="") as handle:
        for row in csv.reader(handle):
            if len(row) < 3 or row[0].startswith("#"):
                continue
            first, last = (
                ipaddress.ip_address(row[0].strip()),
                ipaddress.ip_address(row[1].strip()),
            )
            tables[first.version].append((int(first), int(last), row[2].strip().upper()))
    result = {}
    for version, rows in tables.items():
        rows.sort()
        result[version] = ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    logger.info("geoip.loaded", extra={"rows": sum(len(r[0]) for r in result.values())})
    return result


def country_for_ip(ip: str) -> str | None:
    """The ISO country code of ``ip``, or None (unknown, private, or no database)."""
    path = settings.GEOIP_DATABASE_PATH
    if not path:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    starts, ends, countries = _load(str(path))[address.version]
    index = bisect.bisect_right(starts, int(address)) - 1
    if index >= 0 and int(address) <= ends[index]:
        return countries[index]
    return None
