"""Ingest of external security events: JSON lines and Linux auth-log lines.

Every accepted line becomes one security event, chained like any other (see
``audit.chain``), scored before it is stored, and then run through the same
rules as the portal's own events. Each line leaves a fingerprint in
``IngestedLine`` so a second import of the same file adds nothing.

The fingerprint is sha256(host, line, n) where n counts the identical lines
met before in the same input: real logs repeat a line byte for byte when two
attempts fall in the same second, and each is its own attempt.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import ipaddress
import json
import logging
import operator
import os
import re
import uuid
import zoneinfo
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import User
from audit import chain
from audit.detection import types
from audit.detection.addresses import ipv4_int
from audit.detection.scoring import Attempt, RiskScorer
from audit.models import IngestedLine, SecurityEvent
from audit.services import DEFAULT_SEVERITY
from cloudexpress import dbvendor, requestcontext

logger = logging.getLogger(__name__)

T = types.T
MAX_LINE = 8192


class IngestError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclass
class Parsed:
    fingerprint: str
    event_type: str
    occurred_at: dt.datetime
    severity: str = ""
    ip: str | None = None
    user_agent: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    actor_id: int | None = None
    target_user_id: int | None = None


def _fingerprint(host: str, line: str, seen: Counter[str]) -> str:
    seen[line] += 1
    digest = hashlib.sha256()
    digest.update(host.encode())
    digest.update(b"\0")
    digest.update(line.encode("utf-8", "surrogateescape"))
    digest.update(b"\0")
    digest.update(str(seen[line]).encode())
    return digest.hexdigest()


def _ip(value: Any) -> str | None:
    if not value:
        return None
    return _ip_text(str(value))


@functools.lru_cache(maxsize=65536)
def _ip_text(value: str) -> str | None:
    if ipv4_int(value) is not None:
        return value
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)


# --- Linux auth log ---------------------------------------------------------

_SYSLOG = re.compile(
    r"^(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<time>\d\d:\d\d:\d\d) (?P<host>\S+) "
    r"(?P<prog>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?: (?P<msg>.*)$"
)
_ADDR = r"(?P<ip>[0-9A-Fa-f.:]+)"
_FAILED = re.compile(
    r"^(?:message repeated (?P<repeat>\d+) times: \[ )?Failed (?P<method>\S+) for "
    r"(?P<invalid>invalid user )?(?P<user>.*?) from " + _ADDR + r" port (?P<port>\d+)"
)
_ACCEPTED = re.compile(
    r"^Accepted (?P<method>\S+) for (?P<user>\S+) from " + _ADDR + r" port (?P<port>\d+)"
)
_INVALID = re.compile(r"^Invalid user (?P<user>.*?) from " + _ADDR + r"(?: port (?P<port>\d+))?")
_DISCONNECTED = re.compile(
    r"^Disconnected from (?:(?:invalid|authenticating) user (?P<user>\S+) )?"
    + _ADDR
    + r" port (?P<port>\d+)"
)
_NEW_USER = re.compile(r"^new user: name=(?P<name>[^,]+)")
_NEW_GROUP = re.compile(r"^new group: name=(?P<name>[^,]+)")
_FAILED_ADDING = re.compile(r"^failed adding user '(?P<name>[^']*)'")
_PASSWORD_CHANGED = re.compile(r"password changed for (?P<name>\S+)")
_SUDO = re.compile(r"^\s*(?P<user>\S+) : (?P<rest>.*)$")
_SUDO_FIELD = re.compile(r"(?P<name>TTY|PWD|USER|COMMAND)=(?P<value>[^;]*)")
_MONTHS = {
    m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)
}


def _authlog_event(prog: str, msg: str) -> tuple[str, dict[str, Any], str | None] | None:
    """Map one syslog message to (type, detail, address), or None to skip."""
    if prog == "sshd":
        if match := _FAILED.match(msg):
            detail: dict[str, Any] = {
                "username": match["user"],
                "method": match["method"],
                "port": int(match["port"]),
                "invalid_user": bool(match["invalid"]),
            }
            if match["repeat"]:
                detail["repeat"] = int(match["repeat"])
            return T.SSH_FAILED, detail, match["ip"]
        if match := _ACCEPTED.match(msg):
            return (
                T.SSH_ACCEPTED,
                {"username": match["user"], "method": match["method"], "port": int(match["port"])},
                match["ip"],
            )
        if match := _INVALID.match(msg):
            return T.SSH_INVALID_USER, {"username": match["user"]}, match["ip"]
        if match := _DISCONNECTED.match(msg):
            detail = {"port": int(match["port"])}
            if match["user"]:
                detail["username"] = match["user"]
            return types.SSH_DISCONNECTED, detail, match["ip"]
        return None
    if prog == "useradd":
        for pattern, action in (
            (_NEW_USER, "user_created"),
            (_NEW_GROUP, "group_created"),
            (_FAILED_ADDING, "failed"),
        ):
            if match := pattern.match(msg):
                return T.ACCOUNT_PROVISIONED, {"action": action, "name": match["name"]}, None
        return T.ACCOUNT_PROVISIONED, {"action": "other"}, None
    if prog in {"passwd", "chpasswd"}:
        if match := _PASSWORD_CHANGED.search(msg):
            return types.HOST_PASSWORD_CHANGED, {"name": match["name"], "program": prog}, None
        return None
    if prog == "sudo":
        match = _SUDO.match(msg)
        if match is None or "COMMAND=" not in match["rest"]:
            return None
        fields = {m["name"]: m["value"].strip() for m in _SUDO_FIELD.finditer(match["rest"])}
        # Only the program is kept: arguments can carry secrets.
        program = fields.get("COMMAND", "").split(" ", 1)[0]
        return (
            types.HOST_SUDO,
            {"username": match["user"], "run_as": fields.get("USER", ""), "program": program},
            None,
        )
    return None


def parse_authlog(lines: Iterable[str], *, year: int, tz: str = "UTC") -> Iterator[Parsed]:
    """Parse syslog auth lines, which carry no year: ``year`` is that of the
    first line, and a month going backwards by more than half a year starts
    the next one (a log that runs over New Year)."""
    zone = zoneinfo.ZoneInfo(tz)
    seen: Counter[str] = Counter()
    last_month = 0
    for raw in lines:
        line = raw.rstrip("\r\n")[:MAX_LINE]
        match = _SYSLOG.match(line)
        if match is None:
            continue
        mapped = _authlog_event(match["prog"], match["msg"])
        if mapped is None:
            continue
        month = _MONTHS.get(match["mon"])
        if month is None:
            continue
        if last_month and month < last_month - 6:
            year += 1
        last_month = month
        hour, minute, second = (int(part) for part in match["time"].split(":"))
        try:
            occurred = dt.datetime(
                year, month, int(match["day"]), hour, minute, second, tzinfo=zone
            )
        except ValueError:
            continue
        event_type, detail, address = mapped
        detail["host"] = match["host"][:100]
        detail["program"] = match["prog"]
        yield Parsed(
            fingerprint=_fingerprint(match["host"], line, seen),
            event_type=event_type,
            occurred_at=occurred.astimezone(dt.UTC),
            ip=_ip(address),
            detail=detail,
        )


# --- JSON lines -------------------------------------------------------------


def parse_jsonl(lines: Iterable[str], *, strict: bool = True) -> Iterator[Parsed]:
    """Parse one JSON object a line::

        {"type": "auth.sign_in_failed", "occurred_at": "2026-12-01T10:00:00Z",
         "ip": "203.0.113.5", "user_agent": "...", "severity": "low",
         "actor": "<user public id>", "target_user": "<user public id>",
         "detail": {"username": "...", "geo": {"country": "PT", "lat": 38.7, "lon": -9.1}}}

    Unknown types are kept as ``external`` with the original type in detail.
    With ``strict`` a bad line raises IngestError; otherwise it is skipped.
    """
    seen: Counter[str] = Counter()
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            yield _jsonl_one(line, number, seen)
        except IngestError:
            if strict:
                raise
            logger.warning("ingest.line_refused", extra={"line": number})


def _jsonl_one(line: str, number: int, seen: Counter[str]) -> Parsed:
    if len(line) > MAX_LINE:
        raise IngestError(number, "line is too long")
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        raise IngestError(number, "not valid JSON") from None
    if not isinstance(data, dict):
        raise IngestError(number, "not a JSON object")
    event_type = str(data.get("type") or "")
    given = data.get("detail")
    detail: dict[str, Any] = dict(given) if isinstance(given, dict) else {}
    if not event_type:
        raise IngestError(number, "type is required")
    if event_type not in types.KNOWN_TYPES:
        detail["original_type"] = event_type[:64]
        event_type = T.EXTERNAL
    raw_time = data.get("occurred_at")
    occurred = parse_datetime(str(raw_time)) if raw_time else None
    if raw_time and occurred is None:
        raise IngestError(number, "occurred_at is not an ISO 8601 time")
    if occurred is not None and timezone.is_naive(occurred):
        occurred = occurred.replace(tzinfo=dt.UTC)
    if data.get("ip") and _ip(data["ip"]) is None:
        raise IngestError(number, "ip is not an address")
    if data.get("username") is not None:
        detail["username"] = str(data["username"])[:150]
    severity = str(data.get("severity") or "")
    if severity and severity not in SecurityEvent.Severity.values:
        raise IngestError(number, "severity is not one of info, low, medium, high, critical")
    parsed = Parsed(
        fingerprint=_fingerprint(str(data.get("host", "")), line, seen),
        event_type=event_type,
        occurred_at=(occurred or timezone.now()).astimezone(dt.UTC),
        severity=severity,
        ip=_ip(data.get("ip")),
        user_agent=str(data.get("user_agent") or "")[:512],
        detail=detail,
    )
    for name in ("actor", "target_user"):
        value = data.get(name)
        if value:
            try:
                parsed.detail[f"_{name}_public_id"] = str(uuid.UUID(str(value)))
            except ValueError:
                raise IngestError(number, f"{name} is not a user id") from None
    return parsed


def _resolve_users(batch: list[Parsed]) -> None:
    wanted = {
        p.detail[key]
        for p in batch
        for key in ("_actor_public_id", "_target_user_public_id")
        if key in p.detail
    }
    if not wanted:
        return
    ids = {
        str(pub): pk
        for pk, pub in User.objects.filter(public_id__in=wanted).values_list("pk", "public_id")
    }
    for p in batch:
        actor = p.detail.pop("_actor_public_id", None)
        target = p.detail.pop("_target_user_public_id", None)
        p.actor_id = ids.get(actor) if actor else None
        p.target_user_id = ids.get(target) if target else None


# --- storing ----------------------------------------------------------------

_CHAIN = chain.label(SecurityEvent)
_HASHED = chain.HASHED_FIELDS[_CHAIN]
_PERSONAL = chain.PERSONAL_FIELDS[_CHAIN]
_FK_COPIES = chain.FK_COPIES[_CHAIN]
# Every column an ingested row sets, in the order the rows are written.
_STORED = (
    "public_id",
    "occurred_at",
    "event_type",
    "severity",
    "actor_id",
    "actor_pk",
    "system_actor",
    "target_user_id",
    "target_user_pk",
    "organization_id",
    "organization_pk",
    "ip",
    "user_agent",
    "request_id",
    "detail",
    "risk_score",
    "risk_factors",
    "seq",
    "prev_hash",
    "row_hash",
    "personal_digest",
    "personal_salt",
)
_LINE_COLUMNS = ("fingerprint", "event_id", "source", "ingested_at")
# A record's values in ``_STORED`` order, picked in C.
_stored_values = operator.itemgetter(*_STORED)


def _records_link(records: list[dict[str, Any]]) -> None:
    """Seal and link ``records`` as the next rows of the event chain, in one
    pass under the chain's one lock (held until the caller's transaction
    ends).

    The same digest and hash ``chain.link_many`` gives a model instance, from
    the chain module's own field lists and encoders, without a model instance
    and its field machinery per row: ingest values are already what the
    database reads back (addresses normalised by ``_ip``, details made of
    JSON values, times in UTC).
    """
    salts = os.urandom(chain.SALT_BYTES * len(records))
    for index, record in enumerate(records):
        for fk, copy in _FK_COPIES:
            record[copy] = record[fk]
        salt = salts[index * chain.SALT_BYTES : (index + 1) * chain.SALT_BYTES]
        record["personal_salt"] = salt
        record["personal_digest"] = chain.personal_digest_of(
            salt, [record[name] for name in _PERSONAL]
        )
    seq, prev_hash = chain.lock_and_read_head(SecurityEvent)
    for record in records:
        seq += 1
        record["seq"] = seq
        record["prev_hash"] = prev_hash
        prev_hash = record["row_hash"] = chain.row_hash_of(
            prev_hash, chain.canonical_content([record[name] for name in _HASHED])
        )
    chain.head_advance(SecurityEvent, seq, records[-1]["prev_hash"], prev_hash)


def events_store(records: list[dict[str, Any]], fingerprints: list[str], source: str) -> list[int]:
    """Insert ``records`` as the next rows of the event chain, with their
    line fingerprints; return the new events' ids in order.

    Set-based: one lock and one hashing pass per batch (``_records_link``),
    then one bulk load of the events and one of the fingerprints through
    ``dbvendor.rows_copy``. Call inside the caller's transaction.
    """
    if not records:
        return []
    _records_link(records)
    ids = dbvendor.rows_copy(
        SecurityEvent,
        _STORED,
        [_stored_values(record) for record in records],
        returning_ids=True,
    )
    now = timezone.now()
    dbvendor.rows_copy(
        IngestedLine,
        _LINE_COLUMNS,
        [(line, pk, source[:200], now) for line, pk in zip(fingerprints, ids, strict=True)],
    )
    return ids


@dataclass
class IngestResult:
    read: int = 0
    added: int = 0
    duplicates: int = 0
    detection: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "added": self.added,
            "duplicates": self.duplicates,
            "detection": self.detection,
        }


def events_ingest(
    parsed: Iterable[Parsed],
    *,
    source: str,
    batch_size: int = 5000,
    detect: bool = True,
) -> IngestResult:
    """Store parsed lines not seen before, scored, then run detection."""
    result = IngestResult()
    notify: list[tuple[int, str, int]] = []
    with requestcontext.system_job(f"ingest:{source}"[:80]):
        batch: list[Parsed] = []
        for item in parsed:
            batch.append(item)
            if len(batch) >= batch_size:
                notify += _ingest_batch(batch, source, result)
                batch = []
        if batch:
            notify += _ingest_batch(batch, source, result)
    if notify:
        from audit.detection import notifications

        for user_id, kind, event_id in notify:
            notifications.account_security_notify(user=user_id, event_kind=kind, event_id=event_id)
    if detect and result.added:
        from audit.detection.engine import detection_run

        result.detection = detection_run()
    logger.info(
        "ingest.finished",
        extra={"source": source, "added": result.added, "duplicates": result.duplicates},
    )
    return result


def _ingest_batch(
    batch: list[Parsed], source: str, result: IngestResult
) -> list[tuple[int, str, int]]:
    result.read += len(batch)
    context = requestcontext.current()
    request_id = context.request_id if context else ""
    system_actor = context.system_actor if context else ""
    with transaction.atomic():
        # One importer at a time decides which lines are new.
        dbvendor.lock_for_transaction("detection:ingest")
        known = dbvendor.values_present(
            IngestedLine, "fingerprint", [p.fingerprint for p in batch]
        )
        fresh: list[Parsed] = []
        for p in batch:
            if p.fingerprint in known:
                continue
            known.add(p.fingerprint)
            fresh.append(p)
        result.duplicates += len(batch) - len(fresh)
        if not fresh:
            return []
        _resolve_users(fresh)

        # Scores come from the profiles loaded once for the whole batch.
        default_severity = DEFAULT_SEVERITY.get
        attempts = [
            Attempt(
                event_type=p.event_type,
                severity=p.severity or default_severity(p.event_type, SecurityEvent.Severity.INFO),
                occurred_at=p.occurred_at,
                ip=p.ip,
                user_agent=p.user_agent,
                actor_id=p.actor_id,
                target_user_id=p.target_user_id,
                detail=p.detail,
            )
            for p in fresh
        ]
        scorer = RiskScorer(attempts)
        records: list[dict[str, Any]] = []
        notify_for: list[tuple[int | None, str]] = []
        for p, attempt in zip(fresh, attempts, strict=True):
            scored = scorer.score(attempt)
            notify_for.append((scored.notify_user_id, scored.notify_kind))
            records.append(
                {
                    "public_id": uuid.uuid4(),
                    "occurred_at": p.occurred_at,
                    "event_type": p.event_type,
                    "severity": attempt.severity,
                    "actor_id": p.actor_id,
                    "target_user_id": p.target_user_id,
                    "organization_id": None,
                    "ip": p.ip,
                    "user_agent": p.user_agent,
                    "request_id": request_id,
                    "system_actor": system_actor,
                    "detail": p.detail,
                    "risk_score": scored.score,
                    "risk_factors": scored.factors,
                }
            )

        ids = events_store(records, [p.fingerprint for p in fresh], source)
        scorer.flush()
    result.added += len(ids)
    return [
        (user_id, kind, pk)
        for (user_id, kind), pk in zip(notify_for, ids, strict=True)
        if user_id is not None
    ]
