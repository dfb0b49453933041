"""Models of the compliance app, one module per concept."""

from compliance.models.jobs import JobRun

__all__ = ["JobRun"]
