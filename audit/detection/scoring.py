"""Risk scores from 0 to 100: the type's base severity plus how unusual the
attempt is for the subject that made it.

The per-subject model follows the statistical risk-based authentication of
Freeman et al. (NDSS 2016): each feature of a sign-in (address, network
prefix, country, user-agent family, hour of day) has a smoothed frequency in
the subject's own history and in the whole population; the attacker is
modelled by the population, so the likelihood ratio of a feature is

    LR = p(x | population) / p(x | subject)

with the subject's frequency smoothed towards the population's:

    p(x | subject) = (count_subject(x) + alpha * p(x | population)) / (n_subject + alpha)
    p(x | population) = (count_all(x) + 1) / (n_all + domain_size)

Features are treated as independent, so their log-ratios add. A subject with
no history gets ratio 1 (nothing unusual is known), a value the subject never
used after many sign-ins gets a large one. Only successful sign-ins teach the
model, after they were scored, so an attacker's failures never become normal.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import F

from audit.detection import types
from audit.detection.addresses import ipv4_int
from audit.detection.threatintel import ThreatMatcher, threat_matcher
from audit.models import SignInProfileEntry
from cloudexpress import dbvendor

MODEL_NAME = "per-subject likelihood ratio (Freeman et al., NDSS 2016)"
GLOBAL = "*"
TOTAL = "_total"
FEATURES = ("ip", "net", "country", "ua", "hour")
# Rough sizes of each feature's domain, for the population's Laplace smoothing.
DOMAIN_SIZE = {"ip": 100_000, "net": 20_000, "country": 250, "ua": 50, "hour": 24}

_UA_FAMILIES = (
    ("edge", re.compile(r"Edg(e|A|iOS)?/", re.I)),
    ("opera", re.compile(r"OPR/|Opera", re.I)),
    ("chrome", re.compile(r"Chrome/|CriOS/", re.I)),
    ("firefox", re.compile(r"Firefox/|FxiOS/", re.I)),
    ("safari", re.compile(r"Safari/", re.I)),
    ("curl", re.compile(r"^curl/", re.I)),
    ("python", re.compile(r"python-requests|python-urllib|httpx|aiohttp", re.I)),
    ("go", re.compile(r"Go-http-client", re.I)),
    ("openssh", re.compile(r"OpenSSH", re.I)),
)


def risk_settings() -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "alpha": 1.0,
        "min_history": 3,
        "points_per_bit": 6.0,
        "max_anomaly_points": 60,
        "threat_points": 40,
        "high_feature_bits": 1.0,
    }
    return {**defaults, **getattr(settings, "DETECTION_RISK", {})}


@functools.lru_cache(maxsize=4096)
def user_agent_family(user_agent: str) -> str:
    if not user_agent:
        return ""
    for family, pattern in _UA_FAMILIES:
        if pattern.search(user_agent):
            return family
    return "other"


@functools.lru_cache(maxsize=65536)
def network_prefix(ip: str | None) -> str:
    """The /24 (IPv4) or /48 (IPv6) an address belongs to."""
    if not ip:
        return ""
    if ipv4_int(ip) is not None:
        return f"{ip.rsplit('.', 1)[0]}.0/24"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def event_subject(
    event_type: str, actor_id: int | None, target_user_id: int | None, detail: dict[str, Any]
) -> str | None:
    """Whose normal behaviour an attempt is compared with."""
    if event_type == types.T.API_KEY_USED:
        key_id = detail.get("key_id") or detail.get("api_key_id")
        if key_id:
            return f"apikey:{key_id}"
    if event_type.startswith("ssh."):
        username = detail.get("username")
        if username is not None:
            return f"ssh:{detail.get('host', '')}:{username}"[:200]
        return None
    user_id = actor_id or target_user_id
    return f"user:{user_id}" if user_id else None


def event_features(
    *, ip: str | None, user_agent: str, occurred_at: dt.datetime, detail: dict[str, Any]
) -> dict[str, str]:
    found = detail.get("geo")
    geo: dict[str, Any] = found if isinstance(found, dict) else {}
    country = str(detail.get("country") or geo.get("country") or "")[:100]
    values = {
        "ip": ip or "",
        "net": network_prefix(ip),
        "country": country.upper(),
        "ua": user_agent_family(user_agent),
        "hour": f"{occurred_at.astimezone(dt.UTC).hour:02d}",
    }
    # A feature that is unknown for this attempt says nothing either way.
    return {name: value for name, value in values.items() if value}


def attempt_features(attempt: Attempt) -> dict[str, str]:
    if attempt.features is None:
        attempt.features = event_features(
            ip=attempt.ip,
            user_agent=attempt.user_agent,
            occurred_at=attempt.occurred_at,
            detail=attempt.detail,
        )
    return attempt.features


@dataclass
class Attempt:
    """What the scorer needs of one event, before or after it is stored."""

    event_type: str
    severity: str
    occurred_at: dt.datetime
    ip: str | None = None
    user_agent: str = ""
    actor_id: int | None = None
    target_user_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    features: dict[str, str] | None = None


@dataclass
class Scored:
    score: int
    factors: dict[str, Any]
    # Set when a portal user signed in from a network or country new to them.
    notify_user_id: int | None = None
    # Which account notice to send (a key of notifications.ACCOUNT_EVENT_TEXT).
    notify_kind: str = ""


class RiskScorer:
    """Scores a batch of attempts against profiles loaded once for the batch."""

    def __init__(self, attempts: Iterable[Attempt], matcher: ThreatMatcher | None = None) -> None:
        self.config = risk_settings()
        self.matcher = matcher or threat_matcher()
        self.counts: dict[tuple[str, str, str], int] = {}
        self.dirty: dict[tuple[str, str, str], dt.datetime] = {}
        subjects: set[str] = set()
        values: set[str] = set()
        for attempt in attempts:
            if attempt.event_type not in types.SCORED_ATTEMPT_TYPES:
                continue
            subject = event_subject(
                attempt.event_type, attempt.actor_id, attempt.target_user_id, attempt.detail
            )
            if subject:
                subjects.add(subject)
            values.update(attempt_features(attempt).values())
        self._load(subjects, values)
        # What the database held when loaded (or last flushed): flush writes
        # only the increments on top of the current rows.
        self._baseline = dict(self.counts)

    def _load(self, subjects: set[str], values: set[str]) -> None:
        # A batch names thousands of subjects and values: each list goes as
        # one parameter (dbvendor.AnyOf), not one placeholder per item.
        rows = SignInProfileEntry.objects.filter(
            dbvendor.AnyOf(F("subject"), sorted(subjects))
        ).values_list("subject", "feature", "value", "count")
        for subject, feature, value, count in rows:
            self.counts[(subject, feature, value)] = count
        globals_ = SignInProfileEntry.objects.filter(
            dbvendor.AnyOf(F("value"), sorted(values | {""})), subject=GLOBAL
        ).values_list("feature", "value", "count")
        for feature, value, count in globals_:
            self.counts[(GLOBAL, feature, value)] = count

    def _learn(self, subject: str, features: dict[str, str], at: dt.datetime) -> None:
        for owner in (subject, GLOBAL):
            for key in [(owner, TOTAL, "")] + [(owner, f, v) for f, v in features.items()]:
                self.counts[key] = self.counts.get(key, 0) + 1
                self.dirty[key] = at

    def score(self, attempt: Attempt) -> Scored:
        config = self.config
        base = types.SEVERITY_BASE.get(attempt.severity, 5)
        factors: dict[str, Any] = {"base": base, "anomaly": 0, "threat": 0}
        notify: int | None = None
        notify_kind = ""

        threat = self.matcher.match(attempt.ip)
        if threat is not None:
            factors["threat"] = int(config["threat_points"])
            factors["threat_intel"] = threat

        subject = None
        if attempt.event_type in types.SCORED_ATTEMPT_TYPES:
            subject = event_subject(
                attempt.event_type, attempt.actor_id, attempt.target_user_id, attempt.detail
            )
        if subject:
            features = attempt_features(attempt)
            anomaly, detail = self._likelihood(subject, features)
            factors.update(detail)
            factors["anomaly"] = anomaly
            if attempt.event_type in types.SUCCESS_TYPES:
                is_portal_user = subject.startswith("user:")
                if is_portal_user and (factors.get("new_network") or factors.get("new_country")):
                    notify = attempt.actor_id or attempt.target_user_id
                    notify_kind = "new_network_sign_in"
                elif is_portal_user and factors.get("new_device"):
                    notify = attempt.actor_id or attempt.target_user_id
                    notify_kind = "new_device_sign_in"
                self._learn(subject, features, attempt.occurred_at)

        score = min(100, base + factors["anomaly"] + factors["threat"])
        factors["score"] = score
        return Scored(score=score, factors=factors, notify_user_id=notify, notify_kind=notify_kind)

    def _likelihood(self, subject: str, features: dict[str, str]) -> tuple[int, dict[str, Any]]:
        config = self.config
        alpha = float(config["alpha"])
        # Runs once per scored event: plain dict lookups, no helper calls.
        count = self.counts.get
        n_subject = count((subject, TOTAL, ""), 0)
        n_all = count((GLOBAL, TOTAL, ""), 0)
        if n_subject == 0:
            return 0, self._no_history(features)
        explained: list[dict[str, Any]] = []
        total_bits = 0.0
        seen_by: dict[str, int] = {}
        for name in FEATURES:
            value = features.get(name)
            if value is None:
                continue
            p_all = (count((GLOBAL, name, value), 0) + 1) / (n_all + DOMAIN_SIZE[name])
            seen = seen_by[name] = count((subject, name, value), 0)
            ratio = p_all * (n_subject + alpha) / (seen + alpha * p_all)
            bits = math.log2(ratio)
            total_bits += bits
            explained.append(
                {
                    "feature": name,
                    "seen": seen,
                    "subject_share": round(seen / n_subject, 3) if n_subject else None,
                    "likelihood_ratio": round(ratio, 3),
                    "bits": round(bits, 2),
                }
            )
        known = n_subject >= int(config["min_history"])
        points = int(round(max(0.0, total_bits) * float(config["points_per_bit"])))
        anomaly = min(int(config["max_anomaly_points"]), points)
        threshold = float(config["high_feature_bits"])
        high = [
            item["feature"]
            for item in sorted(explained, key=lambda item: -item["bits"])
            if item["bits"] >= threshold
        ]
        result: dict[str, Any] = {
            "model": MODEL_NAME,
            "history": n_subject,
            "bits": round(total_bits, 2),
            "features": explained,
            "high": high,
        }
        if known and seen_by.get("net") == 0:
            result["new_network"] = True
        if known and seen_by.get("country") == 0:
            result["new_country"] = True
        # A user-agent family never used before: a new device or program.
        if known and seen_by.get("ua") == 0:
            result["new_device"] = True
        return anomaly, result

    def _no_history(self, features: dict[str, str]) -> dict[str, Any]:
        """What ``_likelihood`` gives a subject never seen, without its
        arithmetic: each ratio is exactly 1 (the smoothed subject frequency
        is the population's), so every feature weighs 0 bits. Most attempts
        in an attacked log are of this kind (names that have no account)."""
        explained = [
            {
                "feature": name,
                "seen": 0,
                "subject_share": None,
                "likelihood_ratio": 1.0,
                "bits": 0.0,
            }
            for name in FEATURES
            if name in features
        ]
        threshold = float(self.config["high_feature_bits"])
        return {
            "model": MODEL_NAME,
            "history": 0,
            "bits": 0.0,
            "features": explained,
            "high": [item["feature"] for item in explained] if threshold <= 0 else [],
        }

    def flush(self) -> None:
        """Write what the batch learned; call inside the caller's transaction.

        Only the increments travel: the database adds them to the stored
        counts, so concurrent batches never overwrite each other's and no
        lock or re-read is needed.
        """
        if not self.dirty:
            return
        rows = [
            (*key, self.counts[key] - self._baseline.get(key, 0), at)
            for key, at in self.dirty.items()
        ]
        dbvendor.counts_add(SignInProfileEntry, ("subject", "feature", "value"), rows)
        for key in self.dirty:
            self._baseline[key] = self.counts[key]
        self.dirty.clear()
