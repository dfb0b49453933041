"""Runs of the checks, their results, the scores per run, and action items."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ResultStatus(models.TextChoices):
    PASS = "pass", "Pass"
    FAIL = "fail", "Fail"
    ERROR = "error", "Error"
    NOT_APPLICABLE = "not_applicable", "Not applicable"
    NOT_IMPLEMENTED = "not_implemented", "Not implemented"


class Coverage(models.TextChoices):
    AUTOMATIC = "automatic", "Automatic"
    ATTESTATION = "attestation", "Attestation"
    NONE = "none", "None"


class Run(models.Model):
    """One evaluation of every registered check at one moment."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Scope(models.TextChoices):
        FULL = "full", "Every check"
        PARTIAL = "partial", "Chosen checks only"

    framework = models.ForeignKey(
        "compliance.Framework", on_delete=models.PROTECT, related_name="runs"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.FULL)
    trigger = models.CharField(max_length=40, blank=True)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Scores are fractions in [0, 1]; None until the run finished (or for a
    # partial run, which scores nothing).
    score = models.FloatField(null=True, blank=True)
    controls_total = models.PositiveIntegerField(default=0)
    controls_passing = models.PositiveIntegerField(default=0)
    checks_total = models.PositiveIntegerField(default=0)
    checks_passing = models.PositiveIntegerField(default=0)
    coverage = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # The row claim that keeps two runs from overlapping.
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status="running"),
                name="compliance_run_one_running",
            ),
        ]

    def __str__(self) -> str:
        return f"Run #{self.pk} {self.status}"

    @property
    def score_percent(self) -> float | None:
        return None if self.score is None else round(self.score * 100, 1)


class Result(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="results")
    check_id = models.CharField(max_length=80)
    status = models.CharField(max_length=20, choices=ResultStatus.choices)
    reason = models.TextField(blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    failing_objects = models.JSONField(default=list, blank=True)
    weight = models.PositiveSmallIntegerField(default=1)
    query_count = models.PositiveIntegerField(default=0)
    duration_ms = models.FloatField(default=0)
    checked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run_id", "check_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "check_id"], name="compliance_result_per_check"
            ),
        ]
        indexes = [models.Index(fields=["check_id", "run"])]

    def __str__(self) -> str:
        return f"{self.check_id}: {self.status}"


class ControlScore(models.Model):
    class Status(models.TextChoices):
        PASS = "pass", "Passing"
        FAIL = "fail", "Not passing"
        NOT_APPLICABLE = "not_applicable", "Not applicable"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="control_scores")
    control = models.ForeignKey(
        "compliance.Control", on_delete=models.CASCADE, related_name="scores"
    )
    status = models.CharField(max_length=20, choices=Status.choices)
    score = models.FloatField(null=True, blank=True)
    coverage = models.CharField(max_length=20, choices=Coverage.choices)
    reasons = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["run_id", "control__code"]
        constraints = [
            models.UniqueConstraint(fields=["run", "control"], name="compliance_controlscore_one"),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} control {self.control_id}: {self.status}"


class CriterionScore(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="criterion_scores")
    criterion = models.ForeignKey(
        "compliance.Criterion", on_delete=models.PROTECT, related_name="scores"
    )
    score = models.FloatField(null=True, blank=True)
    passed = models.BooleanField(default=False)
    controls_total = models.PositiveSmallIntegerField(default=0)
    controls_passing = models.PositiveSmallIntegerField(default=0)
    coverage = models.CharField(max_length=20, choices=Coverage.choices)

    class Meta:
        ordering = ["run_id", "criterion__order"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "criterion"], name="compliance_criterionscore_one"
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} criterion {self.criterion_id}: {self.score}"


class CategoryScore(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="category_scores")
    category = models.ForeignKey(
        "compliance.Category", on_delete=models.PROTECT, related_name="scores"
    )
    score = models.FloatField(null=True, blank=True)
    criteria_total = models.PositiveSmallIntegerField(default=0)
    criteria_passing = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["run_id", "category__order"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "category"], name="compliance_categoryscore_one"
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} category {self.category_id}: {self.score}"


class ActionItem(models.Model):
    """A gap: a control that does not pass, with an owner and a due date."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        CLOSED = "closed", "Closed"

    control = models.ForeignKey(
        "compliance.Control", on_delete=models.CASCADE, related_name="action_items"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    owner_title = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    severity = models.CharField(max_length=10)
    summary = models.TextField()
    opened_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField()
    opened_by_run = models.ForeignKey(
        Run, null=True, on_delete=models.SET_NULL, related_name="opened_items"
    )
    last_failed_run = models.ForeignKey(
        Run, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    times_seen = models.PositiveIntegerField(default=1)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by_run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="closed_items"
    )
    close_note = models.TextField(blank=True)

    class Meta:
        ordering = ["status", "due_at"]
        constraints = [
            # One open gap per control: a failing run updates it.
            models.UniqueConstraint(
                fields=["control"],
                condition=~models.Q(status="closed"),
                name="compliance_actionitem_one_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.control_id} {self.status}"
