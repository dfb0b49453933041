"""Fast paths for the dotted-quad IPv4 addresses that make up most events.

``ipaddress`` builds an object per call; ingest and scoring look at every
event's address several times, and most are plain IPv4 text that string
operations settle. Anything else goes to ``ipaddress``.
"""

from __future__ import annotations


def ipv4_int(text: str) -> int | None:
    """The address as an integer when ``text`` is canonical dotted-quad IPv4
    (four decimal octets, no leading zeros, as ``ipaddress`` prints it)."""
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not (0 < len(part) <= 3 and part.isascii() and part.isdigit()):
            return None
        if len(part) > 1 and part[0] == "0":
            return None
        octet = int(part)
        if octet > 255:
            return None
        value = value << 8 | octet
    return value
