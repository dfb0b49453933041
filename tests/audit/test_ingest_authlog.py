"""Importing the real auth log of an internet-facing host.

The expected figures are derived here from the raw lines with regular
expressions and a sliding window written in this file, never with product
code, and the README's published figures are asserted too.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from audit.models import Alert, IngestedLine, SecurityEvent

pytestmark = pytest.mark.django_db(transaction=False)

FAILED = re.compile(
    r"^(\w{3}) +(\d+) (\d\d:\d\d:\d\d) \S+ sshd\[\d+\]: (?:message repeated (\d+) times: \[ )?"
    r"Failed (\S+) for (?:invalid user )?.*? from ([0-9a-f.:]+) port"
)


INVALID = re.compile(
    r"^(\w{3}) +(\d+) (\d\d:\d\d:\d\d) \S+ sshd\[\d+\]: Invalid user (.*?) from ([0-9a-f.:]+)"
)
FAILED_USER = re.compile(r"Failed \S+ for (?:invalid user )?(.*?) from ")


def _sprayers(lines: list[str]) -> set[str]:
    """Addresses that tried at least `accounts` distinct user names within
    the window, counting failed logins and invalid-user lines."""
    rule = settings.DETECTION_RULES["password_spraying"]
    window = dt.timedelta(minutes=rule["window_minutes"])
    tries: dict[str, list[tuple[dt.datetime, str]]] = defaultdict(list)
    for line in lines:
        failed, invalid = FAILED.match(line), INVALID.match(line)
        if failed:
            month, day, clock, _, _, address = failed.groups()
            name = FAILED_USER.search(line).group(1)
        elif invalid:
            month, day, clock, name, address = invalid.groups()
        else:
            continue
        at = dt.datetime.strptime(f"2026 {month} {day} {clock}", "%Y %b %d %H:%M:%S")
        tries[address].append((at, name))
    found = set()
    for address, attempts in tries.items():
        attempts.sort()
        for end, _ in attempts:
            names = {name for at, name in attempts if end - window < at <= end}
            if len(names) >= rule["accounts"]:
                found.add(address)
                break
    return found


def _independent_count(path: Path) -> dict[str, object]:
    lines = path.read_text().splitlines()
    failures: dict[str, list[tuple[dt.datetime, int]]] = defaultdict(list)
    password_sources: dict[str, int] = defaultdict(int)
    failed_any = 0
    for line in lines:
        match = FAILED.match(line)
        if match:
            failed_any += 1
            month, day, clock, repeat, method, address = match.groups()
            if method == "password":
                password_sources[address] += 1
            at = dt.datetime.strptime(f"2026 {month} {day} {clock}", "%Y %b %d %H:%M:%S")
            failures[address].append((at, int(repeat or 1)))

    # A burst: at least `threshold` attempts within `window` of one address,
    # a "message repeated N times" line counting as N attempts.
    rule = settings.DETECTION_RULES["brute_force_ip"]
    window = dt.timedelta(minutes=rule["window_minutes"])
    attackers = set()
    for address, attempts in failures.items():
        attempts.sort()
        for end, _ in attempts:
            total = sum(n for at, n in attempts if end - window < at <= end)
            if total >= rule["threshold"]:
                attackers.add(address)
                break
    return {
        "failed_lines": sum(1 for line in lines if "Failed password" in line),
        "failed_any_method": failed_any,
        "sources": set(password_sources),
        "invalid_user_lines": sum(1 for line in lines if "Invalid user" in line),
        "useradd_lines": sum(1 for line in lines if re.search(r" useradd\[\d+\]: ", line)),
        "accepted_lines": sum(1 for line in lines if "Accepted" in line),
        "busiest": max(password_sources.values()),
        "attackers": attackers,
        "sprayers": _sprayers(lines),
    }


def _import(path: Path) -> str:
    out = StringIO()
    call_command(
        "ingest_events",
        str(path),
        "--format",
        "authlog",
        "--year",
        "2026",
        "--tz",
        "UTC",
        stdout=out,
    )
    return out.getvalue()


def test_auth_log_import_matches_an_independent_count(shared_data: Path) -> None:
    path = shared_data / "auth.log"
    expected = _independent_count(path)

    # The README's published figures hold for the raw file.
    assert expected["failed_lines"] == 713
    assert len(expected["sources"]) == 105
    assert expected["invalid_user_lines"] == 178
    assert expected["useradd_lines"] == 50
    assert expected["accepted_lines"] == 226
    assert expected["busiest"] == 157
    assert "127.0.0.1" not in expected["attackers"] and expected["attackers"]

    _import(path)

    events = SecurityEvent.objects
    failed = events.filter(event_type="ssh.failed")
    assert failed.count() == expected["failed_any_method"]
    assert failed.filter(detail__method="password").count() == 713
    assert (
        set(failed.filter(detail__method="password").values_list("ip", flat=True).distinct())
        == expected["sources"]
    )
    assert events.filter(event_type="ssh.invalid_user").count() == 178
    assert events.filter(event_type="ssh.accepted").count() == 226
    assert events.filter(event_type="host.account_provisioned").count() == 50
    assert (
        events.filter(event_type="host.account_provisioned", detail__action="user_created").count()
        == 10
    )
    assert events.filter(risk_score=None).count() == 0

    brute = Alert.objects.filter(rule="brute_force_ip")
    assert set(brute.values_list("source_ip", flat=True)) == expected["attackers"]
    assert not Alert.objects.filter(source_ip="127.0.0.1").exists()
    spraying = Alert.objects.filter(rule="password_spraying")
    assert set(spraying.values_list("source_ip", flat=True)) == expected["sprayers"]
    busiest = brute.get(source_ip="24.151.103.17")
    assert busiest.severity == "critical"  # the burst was followed by accepted logins
    assert busiest.event_count >= 10

    # A second import of the same file adds nothing at all.
    before = (events.count(), Alert.objects.count(), IngestedLine.objects.count())
    out = _import(path)
    assert '"added": 0' in out
    assert (events.count(), Alert.objects.count(), IngestedLine.objects.count()) == before
