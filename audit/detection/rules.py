"""Detection rules as code, in a registry (the way checks are registered).

A rule reads the events of the types it names, in time order: the batch
being processed (``is_new``) and, for context, older events within its
lookback. It returns hits; a hit becomes an alert or extends one (see
``audit.detection.alerts``). A rule fires only on new events, so context
events never raise anything twice. Every threshold lives in
``settings.DETECTION_RULES[code]``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from audit.detection import types

T = types.T


@dataclass(slots=True)
class Ev:
    """The columns of one event the rules read."""

    id: int
    at: dt.datetime
    type: str
    ip: str | None
    actor_id: int | None
    target_user_id: int | None
    username: str | None = None
    key_id: str | None = None
    country: str | None = None
    lat: float | None = None
    lon: float | None = None
    rows: int = 0
    repeat: int = 1
    new_network: bool = False
    new_country: bool = False
    threat: bool = False
    risk: int = 0
    is_new: bool = True


@dataclass
class Hit:
    rule: str
    key: str
    title: str
    severity: str
    events: list[Ev]
    source_ip: str | None = None
    subject_user_id: int | None = None
    subject_label: str = ""
    summary: dict[str, Any] = field(default_factory=dict)


Evaluate = Callable[[list[Ev], dict[str, Any]], list[Hit]]


@dataclass(frozen=True)
class Rule:
    code: str
    title: str
    reads: frozenset[str]
    evaluate: Evaluate

    @property
    def config(self) -> dict[str, Any]:
        return rule_config(self.code)

    @property
    def lookback(self) -> dt.timedelta:
        config = self.config
        minutes = config.get("lookback_minutes", config.get("window_minutes", 60))
        return dt.timedelta(minutes=float(minutes))


REGISTRY: dict[str, Rule] = {}


def rule(code: str, *, title: str, reads: Iterable[str]) -> Callable[[Evaluate], Evaluate]:
    def register(evaluate: Evaluate) -> Evaluate:
        if code in REGISTRY:
            raise ValueError(f"rule {code!r} is registered twice")
        REGISTRY[code] = Rule(code, title, frozenset(reads), evaluate)
        return evaluate

    return register


def rule_config(code: str) -> dict[str, Any]:
    return dict(getattr(settings, "DETECTION_RULES", {}).get(code, {}))


def enabled_rules() -> list[Rule]:
    return [r for r in REGISTRY.values() if r.config.get("enabled", True)]


# --- helpers --------------------------------------------------------------


def account_key(ev: Ev) -> str | None:
    """The account an attempt was made against, portal user or host user."""
    user_id = ev.target_user_id or ev.actor_id
    if user_id:
        return f"user:{user_id}"
    if ev.username is not None:
        prefix = "ssh" if ev.type.startswith("ssh.") else "name"
        return f"{prefix}:{ev.username}"[:200]
    return None


def _minutes(config: dict[str, Any], name: str = "window_minutes") -> dt.timedelta:
    return dt.timedelta(minutes=float(config[name]))


def bursts(
    events: list[Ev],
    key_of: Callable[[Ev], str | None],
    *,
    threshold: float,
    window: dt.timedelta,
    weight: Callable[[Ev], float] = lambda ev: 1,
) -> dict[str, list[Ev]]:
    """Events per key that sit in a window whose weight reached the threshold,
    counting only windows that end at a new event."""
    by_key: dict[str, list[Ev]] = defaultdict(list)
    for ev in events:
        key = key_of(ev)
        if key:
            by_key[key].append(ev)
    found: dict[str, list[Ev]] = {}
    for key, evs in by_key.items():
        start = 0
        total = 0.0
        taken_up_to = -1
        members: list[Ev] = []
        for index, ev in enumerate(evs):
            total += weight(ev)
            while evs[start].at <= ev.at - window:
                total -= weight(evs[start])
                start += 1
            if ev.is_new and total >= threshold:
                members.extend(evs[max(start, taken_up_to + 1) : index + 1])
                taken_up_to = index
        if members:
            found[key] = members
    return found


def _followed_by_success(
    members: list[Ev], successes: list[Ev], window: dt.timedelta, same: Callable[[Ev], bool]
) -> list[Ev]:
    """Successes (sorted by time) between a burst's start and a window after it."""
    first, last = members[0].at, members[-1].at + window
    times = [ev.at for ev in successes] if len(successes) < 64 else _times(successes)
    low, high = bisect.bisect_left(times, first), bisect.bisect_right(times, last)
    return [ev for ev in successes[low:high] if same(ev)]


_TIMES_CACHE: dict[int, tuple[list[Ev], list[dt.datetime]]] = {}


def _times(successes: list[Ev]) -> list[dt.datetime]:
    # One burst rule calls this once per hit over the same list.
    held = _TIMES_CACHE.get(id(successes))
    if held is None or held[0] is not successes:
        _TIMES_CACHE.clear()
        held = _TIMES_CACHE[id(successes)] = (successes, [ev.at for ev in successes])
    return held[1]


# --- rules ----------------------------------------------------------------


@rule(
    "brute_force_ip",
    title="Failed sign-in burst from one address",
    reads=types.FAILURE_TYPES | types.SUCCESS_TYPES,
)
def brute_force_ip(events: list[Ev], config: dict[str, Any]) -> list[Hit]:
    window = _minutes(config)
    failures = [ev for ev in events if ev.type in types.FAILURE_TYPES]
    successes = [ev for ev in events if ev.type in types.SUCCESS_TYPES]
    found = bursts(
        failures,
        lambda ev: ev.ip,
        threshold=config["threshold"],
        window=window,
        weight=lambda ev: ev.repeat,
    )
    hits = []
    for ip, members in found.items():
        after = _followed_by_success(members, successes, window, _same_ip(ip))
        severity = "critical" if after else config["severity"]
        accounts = {account_key(ev) for ev in members} - {None}
        hits.append(
            Hit(
                "brute_force_ip",
                f"ip:{ip}",
                f"Brute force from {ip}",
                severity,
                members + after,
                source_ip=ip,
                subject_user_id=_single_user(after),
                summary={
                    "failures": sum(ev.repeat for ev in members),
                    "accounts": len(accounts),
                    "followed_by_success": bool(after),
                },
            )
        )
    return hits


def _same_ip(ip: str) -> Callable[[Ev], bool]:
    return lambda ev: ev.ip == ip


def _same_account(key: str, sources: set[str | None]) -> Callable[[Ev], bool]:
    return lambda ev: account_key(ev) == key and ev.ip in sources


def _single_user(events: list[Ev]) -> int | None:
    users = {ev.actor_id or ev.target_user_id for ev in events} - {None}
    return users.pop() if len(users) == 1 else None


@rule(
    "brute_force_account",
    title="Failed sign-in burst against one account",
    reads=types.FAILURE_TYPES | types.SUCCESS_TYPES,
)
def brute_force_account(events: list[Ev], config: dict[str, Any]) -> list[Hit]:
    window = _minutes(config)
    failures = [ev for ev in events if ev.type in types.FAILURE_TYPES]
    successes = [ev for ev in events if ev.type in types.SUCCESS_TYPES]
    found = bursts(
        failures,
        account_key,
        threshold=config["threshold"],
        window=window,
        weight=lambda ev: ev.repeat,
    )
    hits = []
    for key, members in found.items():
        sources = {ev.ip for ev in members}
        after = _followed_by_success(
            members,
            successes,
            window,
            _same_account(key, sources),
        )
        severity = "critical" if after else config["severity"]
        user_id = int(key.split(":", 1)[1]) if key.startswith("user:") else None
        label = key.split(":", 1)[1] if user_id is None else ""
        hits.append(
            Hit(
                "brute_force_account",
                key,
                f"Brute force against {label or 'a portal account'}",
                severity,
                members + after,
                source_ip=after[0].ip if after else (sources.pop() if len(sources) == 1 else None),
                subject_user_id=user_id,
                subject_label=label,
                summary={
                    "failures": sum(ev.repeat for ev in members),
                    "sources": len({ev.ip for ev in members}),
                    "followed_by_success": bool(after),
                },
            )
        )
    return hits


@rule(
    "password_spraying",
    title="One address failing against many accounts",
    reads=types.FAILURE_TYPES | {T.SSH_INVALID_USER},
)
def password_spraying(events: list[Ev], config: dict[str, Any]) -> list[Hit]:
    window = _minutes(config)
    wanted = int(config["accounts"])
    by_ip: dict[str, list[Ev]] = defaultdict(list)
    for ev in events:
        if ev.ip and account_key(ev):
            by_ip[ev.ip].append(ev)
    hits = []
    for ip, evs in by_ip.items():
        seen: Counter[str] = Counter()
        start = 0
        taken_up_to = -1
        members: list[Ev] = []
        for index, ev in enumerate(evs):
            seen[account_key(ev) or ""] += 1
            while evs[start].at <= ev.at - window:
                old = account_key(evs[start]) or ""
                seen[old] -= 1
                if not seen[old]:
                    del seen[old]
                start += 1
            if ev.is_new and len(seen) >= wanted:
                members.extend(evs[max(start, taken_up_to + 1) : index + 1])
                taken_up_to = index
        if members:
            hits.append(
                Hit(
                    "password_spraying",
                    f"ip:{ip}",
                    f"Password spraying from {ip}",
                    config["severity"],
                    members,
                    source_ip=ip,
                    summary={"accounts": len({account_key(ev) for ev in members})},
                )
            )
    return hits


@rule(
    "new_network_sensitive_action",
    title="Sign-in from a new network or country, then a sensitive action",
    reads=types.SUCCESS_TYPES | types.SENSITIVE_ACTION_TYPES,
)
def new_network_sensitive_action(events: list[Ev], config: dict[str, Any]) -> list[Hit]:
    window = _minutes(config)
    last_flagged: dict[int, Ev] = {}
    hits: dict[int, Hit] = {}
    for ev in events:
        user_id = ev.actor_id
        if user_id is None:
            continue
        if ev.type in types.SUCCESS_TYPES and (ev.new_network or ev.new_country):
            last_flagged[user_id] = ev
            continue
        sign_in = last_flagged.get(user_id)
        if (
            ev.type in types.SENSITIVE_ACTION_TYPES
            and ev.is_new
            and sign_in is not None
            and ev.at - sign_in.at <= window
        ):
            hit = hits.get(user_id)
            if hit is None:
                hit = hits[user_id] = Hit(
                    "new_network_sensitive_action",
                    f"user:{user_id}",
                    "Sensitive action after a sign-in from a new network",
                    config["severity"],
                    [sign_in],
                    source_ip=sign_in.ip,
                    subject_user_id=user_id,
                    summary={"new_country": sign_in.new_country, "actions": []},
                )
            elif sign_in not in hit.events:
                hit.events.append(sign_in)
            hit.events.append(ev)
            hit.summary["actions"] = sorted({*hit.summary["actions"], ev.type})
    return list(hits.values())


def _distance_km(a: Ev, b: Ev) -> float:
    assert a.lat is not None and a.lon is not None and b.lat is not None and b.lon is not None
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


@rule("impossible_travel", title="Sign-ins too far apart to travel", reads=types.SUCCESS_TYPES)
def impossible_travel(events: list[Ev], config: dict[str, Any]) -> list[Hit]:
    previous: dict[int, Ev] = {}
    hits: dict[int, Hit] = {}
    for ev in events:
        user_id = ev.actor_id or ev.target_user_id
        if user_id is None or ev.lat is None or ev.lon is None:
            continue
        before = previous.get(user_id)
        previous[user_id] = ev
        if before is None or not ev.is_new:
            continue
        distance = _distance_km(before, ev)
        hours = max((ev.at - before.at).total_seconds() / 3600, 1 / 60)
        speed = distance / hours
        if distance >= float(config["min_distance_km"]) and speed > float(config["max_speed_kmh"]):
            hit = hits.get(user_id)
            if hit is None:
                hit = hits[user_id] = Hit(
                    "impossible_travel",
                    f"user:{user_id}",
                    "Impossible travel between sign-ins",
                    config["severity"],
                    [before],
                    source_ip=ev.ip,
                    subject_user_id=user_id,
                    summary={},
                )
            hit.events.append(ev)
            hit.summary = {"distance_km": round(distance), "speed_kmh": round(speed)}
    return list(hits.values())


@rule(
    "privilege_escalation_export",
    title="Privilege granted, then data exported",
    reads={T.ROLE_GRANTED, T.DATA_EXPORTED},
)
def privilege_escalation_export(events: list[Ev], config: dict[str, Any]) -> list[Hit]:
    window = _minutes(config)
    granted: dict[int, Ev] = {}
    hits: dict[int, Hit] = {}
    for ev in events:
        if ev.type == T.ROLE_GRANTED and ev.target_user_id:
            granted[ev.target_user_id] = ev
            continue
        grant = granted.get(ev.actor_id or 0)
        if ev.type == T.DATA_EXPORTED and ev.is_new and grant and ev.at - grant.at <= window:
            assert ev.actor_id is not None
            hit = hits.get(ev.actor_id)
            if hit is None:
                hit = hits[ev.actor_id] = Hit(
                    "privilege_escalation_export",
                    f"user:{ev.actor_id}",
                    "Data exported soon after a privilege grant",
                    config["severity"],
                    [grant],
                    source_ip=ev.ip,
                    subject_user_id=ev.actor_id,
                )
            hit.events.append(ev)
    return list(hits.values())


@rule("api_key_new_network", title="API key used from a new network", reads={T.API_KEY_USED})
def api_key_new_network(events: list[Ev], config: dict[str, Any]) -> list[Hit]:
    hits: dict[str, Hit] = {}
    for ev in events:
        if not (ev.is_new and ev.new_network and ev.key_id):
            continue
        hit = hits.get(ev.key_id)
        if hit is None:
            hit = hits[ev.key_id] = Hit(
                "api_key_new_network",
                f"apikey:{ev.key_id}",
                "API key used from a new network",
                config["severity"],
                [],
                source_ip=ev.ip,
                subject_user_id=ev.actor_id,
                subject_label=f"API key {ev.key_id}",
            )
        hit.events.append(ev)
    return list(hits.values())


@rule("mass_export", title="Mass data export", reads={T.DATA_EXPORTED})
def mass_export(events: list[Ev], config: dict[str, Any]) -> list[Hit]:
    window = _minutes(config)
    by_count = bursts(
        events,
        lambda ev: f"user:{ev.actor_id}" if ev.actor_id else None,
        threshold=config["threshold"],
        window=window,
    )
    by_rows = bursts(
        events,
        lambda ev: f"user:{ev.actor_id}" if ev.actor_id else None,
        threshold=config["rows"],
        window=window,
        weight=lambda ev: ev.rows,
    )
    hits = []
    for key in sorted(set(by_count) | set(by_rows)):
        members = sorted(
            {ev.id: ev for ev in by_count.get(key, []) + by_rows.get(key, [])}.values(),
            key=lambda ev: (ev.at, ev.id),
        )
        hits.append(
            Hit(
                "mass_export",
                key,
                "Mass data export",
                config["severity"],
                members,
                source_ip=members[-1].ip,
                subject_user_id=int(key.split(":", 1)[1]),
                summary={"exports": len(members), "rows": sum(ev.rows for ev in members)},
            )
        )
    return hits


@rule(
    "permission_denials",
    title="Repeated permission denials",
    reads={T.PERMISSION_DENIED},
)
def permission_denials(events: list[Ev], config: dict[str, Any]) -> list[Hit]:
    def key_of(ev: Ev) -> str | None:
        if ev.actor_id:
            return f"user:{ev.actor_id}"
        return f"ip:{ev.ip}" if ev.ip else None

    found = bursts(events, key_of, threshold=config["threshold"], window=_minutes(config))
    return [
        Hit(
            "permission_denials",
            key,
            "Repeated permission denials",
            config["severity"],
            members,
            source_ip=members[-1].ip,
            subject_user_id=int(key[5:]) if key.startswith("user:") else None,
            summary={"denials": len(members)},
        )
        for key, members in found.items()
    ]


@rule(
    "threat_intel_match",
    title="Activity from a listed address",
    reads=types.SCORED_ATTEMPT_TYPES,
)
def threat_intel_match(events: list[Ev], config: dict[str, Any]) -> list[Hit]:
    hits: dict[str, Hit] = {}
    for ev in events:
        if not (ev.is_new and ev.threat and ev.ip):
            continue
        hit = hits.get(ev.ip)
        if hit is None:
            hit = hits[ev.ip] = Hit(
                "threat_intel_match",
                f"ip:{ev.ip}",
                f"Activity from listed address {ev.ip}",
                config["severity"],
                [],
                source_ip=ev.ip,
            )
        hit.events.append(ev)
    return list(hits.values())
