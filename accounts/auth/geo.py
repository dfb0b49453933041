"""Country of an address, from an offline database: never a network call.

The default is the database that the ``iptocc`` package ships inside its
wheel: the country each Regional Internet Registry (AFRINIC, APNIC, ARIN,
LACNIC, RIPE NCC) records for the blocks it delegated, from their public
daily statistics files. The package is MIT or Apache-2.0, is released with
fresh data nightly, and reads nothing from disk or the network at run time.
Registry data names the country a block is registered to, which agrees with
commercial databases for most addresses but not for every one (a block used
abroad keeps its registry country): good enough to refuse a country, not to
locate a person.

``GEOIP_DATABASE_PATH`` overrides it with a CSV of
``first_address,last_address,country`` rows (IPv4 or IPv6, ISO 3166-1
alpha-2; ``#`` starts a comment), for a database the operator licenses and
converts themselves. Private, reserved and unknown addresses answer None.

This is the one lookup: sign-in and organization country refusals
(``accounts.auth.ipallow``) and the anomaly model (``audit.detection``) all
call ``country_for_ip``.
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


def _from_file(path: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    starts, ends, countries = _load(path)[address.version]
    index = bisect.bisect_right(starts, int(address)) - 1
    if index >= 0 and int(address) <= ends[index]:
        return countries[index]
    return None


def _from_package(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    from iptocc import country_code

    if not address.is_global:
        return None
    found = country_code(str(address))
    return str(found).upper() if found else None


def geo_source() -> str:
    """Which database answers: ``file`` (the setting) or ``iptocc``."""
    return "file" if settings.GEOIP_DATABASE_PATH else "iptocc"


def country_for_ip(ip: str | None) -> str | None:
    """The ISO country code of ``ip``, or None (unknown, private or invalid)."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    path = settings.GEOIP_DATABASE_PATH
    if path:
        return _from_file(str(path), address)
    return _from_package(address)
