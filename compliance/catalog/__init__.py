"""The criteria catalog and the control seed, as data, and the services that
load them.

The loaders take an optional app registry so that a data migration can run
them against its historical models; everything else calls them without one.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

import yaml
from django.apps import apps as global_apps
from django.db import transaction

logger = logging.getLogger(__name__)

CATALOG_DIR = Path(__file__).resolve().parent
SHIPPED_CATALOG = CATALOG_DIR / "tsc-2017.yml"
CONTROLS_SEED = CATALOG_DIR / "controls.yml"

FRAMEWORK_CODE = "soc2"
SHIPPED_VERSION = "2017"
FRAMEWORK_NAME = "SOC 2 (2017 Trust Services Criteria)"

# code prefix, category name; the longer prefixes first so "PI1" is never read
# as "P" and "CC1" never as "C".
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("CC", "Security (common criteria)"),
    ("A", "Availability"),
    ("PI", "Processing Integrity"),
    ("C", "Confidentiality"),
    ("P", "Privacy"),
)
_PREFIX_ORDER = ("CC", "PI", "A", "C", "P")
_CODE = re.compile(r"^(CC|PI|A|C|P)(\d+)\.(\d+)$")


class CatalogError(ValueError):
    """A catalog file that cannot be imported as it is."""


def category_prefix(code: str) -> str:
    match = _CODE.match(code)
    if match is None:
        raise CatalogError(f"{code!r} is not a criterion id such as CC6.1 or PI1.2")
    return match.group(1)


def _sort_key(code: str) -> tuple[int, int, int]:
    match = _CODE.match(code)
    assert match is not None
    prefix = [c for c, _ in CATEGORIES].index(match.group(1))
    return prefix, int(match.group(2)), int(match.group(3))


def catalog_parse(text: str) -> list[dict[str, str]]:
    """Read a catalog in the shape of TSC-2017.yml: a ``name`` key, then one
    mapping per criterion id with ``family``, ``name`` and an optional
    ``description``. Return the criteria in catalog order."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogError("the catalog must be a mapping of criterion ids")
    criteria = []
    for code, body in data.items():
        if code == "name":
            continue
        code = str(code).strip()
        category_prefix(code)
        if not isinstance(body, dict) or not body.get("name"):
            raise CatalogError(f"{code} needs at least a name")
        family = str(body.get("family") or code.split(".")[0]).strip()
        if not code.startswith(family):
            raise CatalogError(f"{code} does not belong to family {family}")
        criteria.append(
            {
                "code": code,
                "family": family,
                "title": " ".join(str(body["name"]).split())[:200],
                "description": " ".join(str(body.get("description") or "").split()),
            }
        )
    if not criteria:
        raise CatalogError("the catalog holds no criteria")
    criteria.sort(key=lambda item: _sort_key(item["code"]))
    return criteria


def _content_hash(criteria: list[dict[str, str]]) -> str:
    digest = hashlib.sha256()
    for item in criteria:
        for key in ("code", "family", "title", "description"):
            digest.update(item[key].encode())
            digest.update(b"\x1f")
        digest.update(b"\x1e")
    return digest.hexdigest()


def catalog_import(
    text: str,
    *,
    version: str,
    source: str = "",
    name: str = FRAMEWORK_NAME,
    make_current: bool = False,
    apps: Any = None,
) -> tuple[Any, bool]:
    """Import a catalog as one framework version; return it and whether it
    was created.

    Importing the same content under the same version again changes nothing.
    Other content under an existing version is refused: results point at
    that version, so it must never change under them. A new version is
    added beside the old one.
    """
    registry = apps or global_apps
    Framework = registry.get_model("compliance", "Framework")
    Category = registry.get_model("compliance", "Category")
    Criterion = registry.get_model("compliance", "Criterion")

    criteria = catalog_parse(text)
    content_sha256 = _content_hash(criteria)
    version = version.strip()
    if not version:
        raise CatalogError("a version is required")

    with transaction.atomic():
        existing = Framework.objects.filter(code=FRAMEWORK_CODE, version=version).first()
        if existing is not None:
            if existing.content_sha256 != content_sha256:
                raise CatalogError(
                    f"version {version} is already imported with other content; "
                    "import the new content under a new version"
                )
            if make_current and not existing.is_current:
                _make_current(Framework, existing)
            return existing, False

        framework = Framework.objects.create(
            code=FRAMEWORK_CODE,
            version=version,
            name=name,
            source=source[:200],
            content_sha256=content_sha256,
        )
        categories = {}
        for order, (prefix, label) in enumerate(CATEGORIES):
            categories[prefix] = Category.objects.create(
                framework=framework, code=prefix, name=label, order=order
            )
        Criterion.objects.bulk_create(
            [
                Criterion(
                    framework=framework,
                    category=categories[category_prefix(item["code"])],
                    code=item["code"],
                    family=item["family"],
                    title=item["title"],
                    description=item["description"],
                    order=order,
                )
                for order, item in enumerate(criteria)
            ]
        )
        if (
            make_current
            or not Framework.objects.filter(code=FRAMEWORK_CODE, is_current=True).exists()
        ):
            _make_current(Framework, framework)
    logger.info(
        "catalog.imported",
        extra={"version": version, "criteria": len(criteria), "framework_id": framework.pk},
    )
    return framework, True


def _make_current(Framework: Any, framework: Any) -> None:
    Framework.objects.filter(code=framework.code, is_current=True).update(is_current=False)
    Framework.objects.filter(pk=framework.pk).update(is_current=True)
    framework.is_current = True


def controls_seed(*, apps: Any = None) -> int:
    """Create the seed controls that are missing; return how many.

    A control that exists is left as it is, so an officer's edits survive.
    The criteria of a new control are taken from every catalog version, so
    the mapping holds whichever version a run is judged by.
    """
    registry = apps or global_apps
    Control = registry.get_model("compliance", "Control")
    Criterion = registry.get_model("compliance", "Criterion")

    seed = yaml.safe_load(CONTROLS_SEED.read_text())
    existing = set(Control.objects.values_list("code", flat=True))
    missing = [item for item in seed if item["code"] not in existing]
    if not missing:
        return 0
    with transaction.atomic():
        by_code: dict[str, list[int]] = {}
        for pk, code in Criterion.objects.values_list("pk", "code"):
            by_code.setdefault(code, []).append(pk)
        for item in missing:
            control = Control.objects.create(
                code=item["code"],
                document_label=item.get("label", ""),
                name=item["name"],
                description=" ".join(item["description"].split()),
                owner_title=item["owner"],
                severity=item.get("severity", "medium"),
                requires_attestation=bool(item.get("requires_attestation", False)),
            )
            control.criteria.set([pk for code in item["criteria"] for pk in by_code.get(code, [])])
    logger.info("controls.seeded", extra={"controls_created": len(missing)})
    return len(missing)


def catalog_ensure(*, apps: Any = None) -> Any:
    """Make sure the shipped catalog and the seed controls exist; cheap when
    they do. Return the current framework."""
    registry = apps or global_apps
    Framework = registry.get_model("compliance", "Framework")
    current = Framework.objects.filter(code=FRAMEWORK_CODE, is_current=True).first()
    if current is None:
        catalog_import(
            SHIPPED_CATALOG.read_text(),
            version=SHIPPED_VERSION,
            source="CloudExpress catalog (ids with titles in our own words)",
            apps=registry,
        )
        current = Framework.objects.get(code=FRAMEWORK_CODE, is_current=True)
    controls_seed(apps=registry)
    return current


def control_codes_by_criterion(framework: Any) -> dict[str, list[str]]:
    """Map each criterion code to the codes of its active controls."""
    Control = global_apps.get_model("compliance", "Control")
    rows = Control.objects.filter(is_active=True).values_list("code", "criteria__code")
    mapping: dict[str, set[str]] = {}
    for control_code, criterion_code in rows:
        if criterion_code:
            mapping.setdefault(criterion_code, set()).add(control_code)
    return {code: sorted(controls) for code, controls in mapping.items()}
