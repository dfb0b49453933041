"""Models of the compliance app, one module per concept."""

from compliance.models.jobs import JobRun
from compliance.models.reports import ReportPack

__all__ = ["JobRun", "ReportPack"]
