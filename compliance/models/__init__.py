"""Models of the compliance app, one module per concept."""

from compliance.models.jobs import JobRun
from compliance.models.privacy import *  # noqa: F403  (the privacy models, by their __all__)

__all__ = ["JobRun"]
