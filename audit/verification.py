"""Verification of the audit chains: walk a chain in seq order, streaming
plain tuples, and name the first row whose content or link does not match.

What is checked, per row: the seq is the next one; prev_hash is the previous
row's hash; the hashed content hashes to row_hash; the personal columns match
their digest while the salt exists (a missing salt must be one an erasure
recorded); each foreign key agrees with its hashed copy; the row matches any
head anchor at its seq. Head anchors beyond the last row reveal truncation;
a retained-start anchor says where a pruned chain begins.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from django.db import models, transaction

from audit.chain import (
    FK_COPIES,
    GENESIS,
    HASHED_FIELDS,
    PERSONAL_FIELDS,
    encode_content,
    encode_personal,
    label,
)
from cloudexpress import dbvendor


@dataclass
class Problem:
    seq: int | None
    pk: int | None
    reason: str

    def __str__(self) -> str:
        return f"row seq={self.seq} id={self.pk}: {self.reason}"


@dataclass
class VerifyReport:
    chain: str
    rows: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    erased_rows: int = 0
    anchors_checked: int = 0
    problem: Problem | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None


def verification_columns(
    model: type[models.Model], *, check_personal: bool = True
) -> tuple[list[str], dict[str, Any]]:
    """The columns ``verify_chain`` reads, in order, and the annotations some
    of them name.

    Timestamps come as text in their canonical form where the database can
    render it, which spares parsing and formatting one per row.
    """
    chain_label = label(model)
    hashed = list(HASHED_FIELDS[chain_label])
    annotations = {}
    for i in _datetime_indexes(model, hashed):
        expression = dbvendor.timestamp_as_isoformat(hashed[i])
        if expression is not None:
            alias = f"_{hashed[i]}_iso"
            annotations[alias] = expression
            hashed[i] = alias
    for i, name in enumerate(HASHED_FIELDS[chain_label]):
        if isinstance(model._meta.get_field(name), models.UUIDField):
            expression = dbvendor.uuid_as_text(name)
            if expression is not None:
                annotations[f"_{name}_text"] = expression
                hashed[i] = f"_{name}_text"
    personal = PERSONAL_FIELDS[chain_label] if check_personal else ()
    fk_names = [name for pair in FK_COPIES[chain_label] for name in pair]
    columns = ["id", "prev_hash", "row_hash", "personal_salt", *hashed, *personal, *fk_names]
    return columns, annotations


def _erased_seqs(chain_label: str) -> set[int]:
    """The seqs that erasures recorded clearing the salt of, in this chain."""
    from audit.models import SecurityEvent

    key = {"audit.auditlogentry": "entries", "audit.securityevent": "events"}[chain_label]
    seqs: set[int] = set()
    details = SecurityEvent.objects.filter(event_type=SecurityEvent.Type.DATA_ERASED).values_list(
        "detail", flat=True
    )
    for detail in details.iterator(500):
        recorded = (detail or {}).get("erased_seqs") or {}
        seqs.update(recorded.get(key) or ())
    return seqs


def _datetime_indexes(model: type[models.Model], names: Sequence[str]) -> list[int]:
    indexes = []
    for i, name in enumerate(names):
        if isinstance(model._meta.get_field(name), models.DateTimeField):
            indexes.append(i)
    return indexes


def verify_chain(
    model: type[models.Model], *, chunk_size: int = 5000, check_personal: bool = True
) -> VerifyReport:
    """Walk ``model``'s chain in seq order and report the first bad row.

    Streams plain tuples (no model instances). A row is bad when its seq is
    not the next one, its prev_hash is not the previous row's hash, its
    content does not hash to row_hash, its personal columns do not match
    their digest (while the salt exists), a foreign key disagrees with its
    hashed copy, or it differs from a head anchor. Head anchors beyond the
    last row reveal truncation.
    """
    # PostgreSQL: one transaction, so the anchors and the rows are read from
    # one moment's data and the server-side cursor needs no WITH HOLD copy of
    # the table. SQLite: a transaction there is BEGIN IMMEDIATE, which would
    # hold every writer off for the whole walk.
    scope = transaction.atomic() if dbvendor.is_postgresql() else nullcontext()
    with scope:
        return _verify_chain(model, chunk_size=chunk_size, check_personal=check_personal)


def _verify_chain(
    model: type[models.Model], *, chunk_size: int, check_personal: bool
) -> VerifyReport:
    from audit.models import Anchor

    chain_label = label(model)
    report = VerifyReport(chain=chain_label)
    hashed = HASHED_FIELDS[chain_label]
    personal = PERSONAL_FIELDS[chain_label] if check_personal else ()
    fk_pairs = FK_COPIES[chain_label]

    start = (
        Anchor.objects.filter(chain=chain_label, kind=Anchor.Kind.START)
        .order_by("-seq")
        .values_list("seq", "row_hash")
        .first()
    )
    expected_seq, expected_prev = start if start else (1, GENESIS)
    heads = dict(
        Anchor.objects.filter(
            chain=chain_label, kind=Anchor.Kind.HEAD, seq__gte=expected_seq
        ).values_list("seq", "row_hash")
    )
    erased = _erased_seqs(chain_label) if check_personal else set()
    base = 4
    columns, annotations = verification_columns(model, check_personal=check_personal)
    dt_indexes = [
        base + i for i in _datetime_indexes(model, hashed) if columns[base + i] == hashed[i]
    ]
    p_start = base + len(hashed)
    f_start = p_start + len(personal)
    uuid_indexes = [
        base + i
        for i, name in enumerate(hashed)
        if isinstance(model._meta.get_field(name), models.UUIDField) and columns[base + i] == name
    ]
    fk_positions = [
        (f_start + 2 * i, f_start + 2 * i + 1, fk) for i, (fk, _) in enumerate(fk_pairs)
    ]
    sha256 = hashlib.sha256

    rows = (
        model._default_manager.annotate(**annotations)
        .order_by("seq")
        .values_list(*columns)
        .iterator(chunk_size)
    )
    convert = bool(dt_indexes or uuid_indexes)
    problem: Problem | None = None
    first_seq = last_seq = last_pk = None
    verified = erased_rows = anchors_checked = 0
    for row in rows:
        pk, prev_hash, stored_hash, salt, seq = row[0], row[1], row[2], row[3], row[base]
        last_pk = pk
        if seq != expected_seq:
            if seq is None:
                reason = "row has no place in the chain (seq is empty)"
            elif verified == 0 and start is None:
                reason = f"chain starts at seq {seq} but no retained-start anchor explains it"
            else:
                reason = f"rows are missing before this row (expected seq {expected_seq})"
            problem = Problem(seq, pk, reason)
            break
        if first_seq is None:
            first_seq = seq
        if prev_hash != expected_prev:
            problem = Problem(seq, pk, "link broken: prev_hash is not the previous hash")
            break
        if convert:
            row = list(row)
            for i in dt_indexes:
                row[i] = row[i].isoformat(timespec="microseconds")
            for i in uuid_indexes:
                row[i] = str(row[i])
        digest = sha256(prev_hash.encode())
        digest.update(encode_content(row[base:p_start]).encode())
        if digest.hexdigest() != stored_hash:
            problem = Problem(seq, pk, "content does not match its hash")
            break
        if check_personal:
            if salt is None:
                if seq not in erased:
                    problem = Problem(seq, pk, "personal salt removed outside an erasure")
                    break
                erased_rows += 1
            else:
                personal_digest = sha256(bytes(salt))
                personal_digest.update(encode_personal(row[p_start:f_start]).encode())
                if personal_digest.hexdigest() != row[p_start - 1]:
                    problem = Problem(seq, pk, "personal columns do not match their digest")
                    break
        for fk_i, copy_i, fk_name in fk_positions:
            if row[fk_i] is not None and row[fk_i] != row[copy_i]:
                problem = Problem(seq, pk, f"{fk_name} disagrees with its hashed copy")
                break
        if problem is not None:
            break
        anchored = heads.get(seq)
        if anchored is not None:
            anchors_checked += 1
            if anchored != stored_hash:
                problem = Problem(seq, pk, "row differs from its head anchor")
                break
        verified += 1
        last_seq = seq
        expected_prev = stored_hash
        expected_seq += 1

    report.rows, report.first_seq, report.last_seq = verified, first_seq, last_seq
    report.erased_rows, report.anchors_checked = erased_rows, anchors_checked
    if problem is not None:
        report.problem = problem
        return report

    beyond = [s for s in heads if report.last_seq is None or s > report.last_seq]
    if beyond:
        top = max(beyond)
        report.problem = Problem(
            top,
            last_pk,
            f"chain truncated: anchored row seq {top} is gone "
            f"(chain ends at seq {report.last_seq})",
        )
    return report
