"""The criteria catalog: frameworks, categories and criteria, as data.

One ``Framework`` row per catalog version. Importing a new version adds rows
beside the old ones, so a run keeps pointing at the criteria it was judged by.
"""

from __future__ import annotations

from django.db import models


class Framework(models.Model):
    code = models.CharField(max_length=40)
    version = models.CharField(max_length=40)
    name = models.CharField(max_length=200)
    source = models.CharField(max_length=200, blank=True)
    # SHA-256 of the imported content: importing the same version again with
    # other content is refused instead of rewriting what results point at.
    content_sha256 = models.CharField(max_length=64, blank=True)
    # The version that new runs are judged by; one per framework code.
    is_current = models.BooleanField(default=False)
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["code", "version"], name="compliance_framework_version"
            ),
            models.UniqueConstraint(
                fields=["code"],
                condition=models.Q(is_current=True),
                name="compliance_framework_one_current",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.version})"


class Category(models.Model):
    """A trust services category: Security (the common criteria),
    Availability, Processing Integrity, Confidentiality, Privacy."""

    framework = models.ForeignKey(Framework, on_delete=models.CASCADE, related_name="categories")
    code = models.CharField(max_length=10)
    name = models.CharField(max_length=100)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["framework_id", "order"]
        verbose_name_plural = "categories"
        constraints = [
            models.UniqueConstraint(fields=["framework", "code"], name="compliance_category_code"),
        ]

    def __str__(self) -> str:
        return self.name


class Criterion(models.Model):
    framework = models.ForeignKey(Framework, on_delete=models.CASCADE, related_name="criteria")
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="criteria")
    code = models.CharField(max_length=10)
    family = models.CharField(max_length=10)
    title = models.CharField(max_length=200)
    # Empty in the shipped catalog; filled by an imported official text.
    description = models.TextField(blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["framework_id", "order"]
        verbose_name_plural = "criteria"
        constraints = [
            models.UniqueConstraint(
                fields=["framework", "code"], name="compliance_criterion_code"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"
