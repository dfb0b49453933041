"""Anchors: the chain's head (or retained start) written down at a moment.

A head anchor records (seq, row_hash) of a chain's newest row at a time, so
deleting the newest rows is detected: the anchored row is gone or differs. A
start anchor records where a pruned chain now begins, so retention can drop
the oldest rows while what remains still verifies from a known link.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Anchor(models.Model):
    class Kind(models.TextChoices):
        HEAD = "head", "Head"
        START = "start", "Retained start"

    chain = models.CharField(max_length=64)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    seq = models.BigIntegerField()
    # HEAD: row_hash of row ``seq``. START: prev_hash of row ``seq``, the hash
    # of the last row retention removed.
    row_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["chain", "seq"]
        constraints = [
            models.UniqueConstraint(
                fields=["chain", "kind", "seq"], name="audit_anchor_one_per_seq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.chain} {self.kind} at seq {self.seq}"


class ChainHead(models.Model):
    """The newest row of each chain: its lock is the chain's lock.

    Writers lock this one row for the rest of their transaction, read the
    head from it and advance it in the same statement as their insert, so
    the chain never forks. ``audit_verify`` never trusts it: it checks the
    chained rows themselves.
    """

    chain = models.CharField(max_length=64, primary_key=True)
    seq = models.BigIntegerField()
    prev_hash = models.CharField(max_length=64, blank=True)
    row_hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"{self.chain} head at seq {self.seq}"
