"""Django admin of the audit app: the detection registers live beside the
code they show (``audit.detection.admin``); importing it registers them."""

from __future__ import annotations

from audit.detection import admin as detection_admin  # noqa: F401 - registers the models
