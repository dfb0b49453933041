"""Deletion certificates: what went, how many, when, under which policy, and
a SHA-256 over the identifiers of what was deleted.

Identifier digest of a retention run: the deleted keys of each data type as
maximal runs of consecutive keys, one line ``"<data type>:<first>-<last>\n"``
per run, data types in name order and runs ascending. The runs are a
lossless, canonical spelling of the set (a single key is ``k-k``), so anyone
holding the list of deleted identifiers recomputes the digest, and it costs
one line per run instead of one per row: a million contiguous rows hash as
one line. Of an erasure: the erased identifiers sorted as strings, one per
line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any, NoReturn

from django.template.loader import render_to_string

from compliance.models import (
    DataSubjectRequest,
    DeletionCertificate,
    RetentionBatch,
    RetentionPolicy,
    RetentionRun,
)


def _merged_runs(ranges: Iterable[list[int]]) -> Iterator[tuple[int, int]]:
    """Merge sorted [first, last] runs that touch into maximal runs."""
    current: list[int] | None = None
    for first, last in ranges:
        if current is not None and first <= current[1] + 1:
            current[1] = max(current[1], last)
            continue
        if current is not None:
            yield current[0], current[1]
        current = [first, last]
    if current is not None:
        yield current[0], current[1]


def run_identifier_runs(run: RetentionRun) -> Iterator[tuple[str, int, int]]:
    """Yield (data type, first key, last key) for every maximal run of keys
    the run deleted, in digest order."""
    batches = (
        RetentionBatch.objects.filter(run=run)
        .order_by("data_type", "number")
        .values_list("data_type", "id_ranges")
    )
    per_type: dict[str, list[list[int]]] = {}
    for data_type, ranges in batches.iterator(chunk_size=500):
        per_type.setdefault(data_type, []).extend(ranges)
    for data_type in sorted(per_type):
        # Batches cover ascending, disjoint key ranges; sorting makes the
        # order independent of how the run was cut into batches.
        for first, last in _merged_runs(sorted(per_type[data_type])):
            yield data_type, first, last


def identifier_runs_digest(runs: Iterable[tuple[str, int, int]]) -> tuple[str, int]:
    """Return the digest of ``runs`` and how many identifiers they cover."""
    digest = hashlib.sha256()
    count = 0
    for data_type, first, last in runs:
        digest.update(f"{data_type}:{first}-{last}\n".encode())
        count += last - first + 1
    return digest.hexdigest(), count


def _digest(lines: Iterator[str]) -> tuple[str, int]:
    digest = hashlib.sha256()
    count = 0
    for line in lines:
        digest.update(line.encode() + b"\n")
        count += 1
    return digest.hexdigest(), count


def certificate_for_run(run: RetentionRun) -> DeletionCertificate:
    existing = DeletionCertificate.objects.filter(run=run).first()
    if existing is not None:
        return existing
    sha, count = identifier_runs_digest(run_identifier_runs(run))
    policies = {
        policy.data_type: {
            "period": f"{policy.amount} {policy.unit}",
            "cutoff": run.cutoffs.get(policy.data_type),
        }
        for policy in RetentionPolicy.objects.all()
    }
    return DeletionCertificate.objects.create(
        kind=DeletionCertificate.Kind.RETENTION,
        run=run,
        policies=policies,
        counts=dict(run.counts),
        identifier_count=count,
        identifiers_sha256=sha,
    )


def certificate_for_erasure(
    *, request: DataSubjectRequest, identifiers: list[str], counts: dict[str, Any]
) -> DeletionCertificate:
    sha, count = _digest(iter(sorted(identifiers)))
    return DeletionCertificate.objects.create(
        kind=DeletionCertificate.Kind.ERASURE,
        request=request,
        policies={"basis": "GDPR art. 17 request"},
        counts=counts,
        identifier_count=count,
        identifiers_sha256=sha,
    )


def _refuse_every_url(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    # The certificate is self-contained; fetching anything would let data in
    # the page reach the network or the file system.
    raise ValueError("the certificate renderer fetches no URL")


def certificate_pdf(certificate: DeletionCertificate) -> bytes:
    """Render the certificate as PDF (plain block layout, no fetches)."""
    from weasyprint import HTML

    html = render_to_string(
        "privacy/certificate.html",
        {
            "certificate": certificate,
            "counts": sorted(certificate.counts.items()),
            "policies": sorted(certificate.policies.items()),
            "classification": certificate.get_classification_display(),
        },
    )
    return HTML(string=html, url_fetcher=_refuse_every_url).write_pdf()
