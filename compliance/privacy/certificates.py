"""Deletion certificates: what went, how many, when, under which policy, and
a SHA-256 over the sorted identifiers of what was deleted.

Identifier digest: for a retention run, ``"<data type>:<key>\\n"`` for every
deleted row, data types in name order and keys ascending within each; for
an erasure, the erased identifiers sorted as strings, one per line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any, NoReturn

from django.template.loader import render_to_string

from compliance.models import (
    DataSubjectRequest,
    DeletionCertificate,
    RetentionBatch,
    RetentionPolicy,
    RetentionRun,
)


def _run_identifier_blocks(run: RetentionRun) -> Iterator[tuple[bytes, int]]:
    """Yield the run's identifier lines a key range at a time, as bytes."""
    batches = (
        RetentionBatch.objects.filter(run=run)
        .order_by("data_type", "number")
        .values_list("data_type", "id_ranges")
    )
    for data_type, ranges in batches.iterator(chunk_size=500):
        for first, last in ranges:
            for start in range(first, last + 1, 100_000):
                stop = min(start + 100_000, last + 1)
                # One join per block: hashing line by line costs seconds at
                # a million identifiers.
                prefix = f"{data_type}:"
                block = prefix + f"\n{prefix}".join(map(str, range(start, stop))) + "\n"
                yield block.encode(), stop - start


def run_identifiers(run: RetentionRun) -> Iterator[str]:
    for block, _ in _run_identifier_blocks(run):
        yield from block.decode().splitlines()


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
    digest = hashlib.sha256()
    count = 0
    for block, size in _run_identifier_blocks(run):
        digest.update(block)
        count += size
    sha = digest.hexdigest()
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
