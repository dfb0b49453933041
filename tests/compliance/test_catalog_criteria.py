"""The shipped catalog against the official list, and the import path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from compliance.catalog import (
    CONTROLS_SEED,
    SHIPPED_CATALOG,
    SHIPPED_VERSION,
    CatalogError,
    catalog_ensure,
    catalog_import,
    catalog_parse,
)
from compliance.models import Control, Criterion, Framework, Run

pytestmark = pytest.mark.django_db

# The per-family counts the shared data README gives.
README_FAMILY_COUNTS = {
    "CC1": 5, "CC2": 3, "CC3": 4, "CC4": 2, "CC5": 3, "CC6": 8, "CC7": 5, "CC8": 1,
    "CC9": 2, "A1": 3, "C1": 2, "PI1": 5, "P1": 1, "P2": 1, "P3": 2, "P4": 3, "P5": 2,
    "P6": 7, "P7": 1, "P8": 1,
}  # fmt: skip


def _official(shared_data: Path) -> dict[str, dict[str, str]]:
    data = yaml.safe_load((shared_data / "TSC-2017.yml").read_text())
    return {code: body for code, body in data.items() if code != "name"}


def test_shipped_ids_equal_the_official_list(shared_data: Path) -> None:
    official = _official(shared_data)
    shipped = {item["code"] for item in catalog_parse(SHIPPED_CATALOG.read_text())}
    assert len(official) == 61
    assert shipped == set(official)


def test_shipped_family_counts_match_the_readme(shared_data: Path) -> None:
    readme = (shared_data / "README.md").read_text()
    stated = dict(re.findall(r"\b((?:CC|PI|A|C|P)\d) (\d+)", readme))
    assert {family: int(n) for family, n in stated.items()} == README_FAMILY_COUNTS
    counts: dict[str, int] = {}
    for item in catalog_parse(SHIPPED_CATALOG.read_text()):
        counts[item["family"]] = counts.get(item["family"], 0) + 1
    assert counts == README_FAMILY_COUNTS


def test_shipped_titles_are_our_own_words(shared_data: Path) -> None:
    official = _official(shared_data)
    for item in catalog_parse(SHIPPED_CATALOG.read_text()):
        body = official[item["code"]]
        assert item["title"].lower() != body["name"].lower(), item["code"]
        assert item["description"] == ""


def test_migration_loads_the_shipped_catalog_and_controls() -> None:
    framework = Framework.objects.get(version=SHIPPED_VERSION)
    assert framework.is_current
    assert framework.criteria.count() == 61
    assert framework.categories.count() == 5
    assert Control.objects.count() == len(yaml.safe_load(CONTROLS_SEED.read_text()))


def test_import_adds_the_official_text_as_a_new_version_and_is_idempotent(
    shared_data: Path,
) -> None:
    shipped = catalog_ensure()
    run = Run.objects.create(framework=shipped, status=Run.Status.DONE)

    call_command(
        "import_catalog",
        str(shared_data / "TSC-2017.yml"),
        "--version",
        "2017-aicpa",
        "--make-current",
    )
    imported = Framework.objects.get(version="2017-aicpa")
    assert imported.is_current
    assert imported.criteria.count() == 61
    pi11 = imported.criteria.get(code="PI1.1")
    assert "speci cations" in pi11.description  # the file's own text, as it is
    assert Criterion.objects.filter(code="CC6.1").count() == 2

    # The same file again changes nothing.
    before = Criterion.objects.count()
    call_command("import_catalog", str(shared_data / "TSC-2017.yml"), "--version", "2017-aicpa")
    assert Criterion.objects.count() == before
    assert Framework.objects.filter(version="2017-aicpa").count() == 1

    # Results keep pointing at the version they were judged by.
    run.refresh_from_db()
    assert run.framework == shipped
    shipped.refresh_from_db()
    assert not shipped.is_current


def test_other_content_under_an_existing_version_is_refused(shared_data: Path) -> None:
    text = (shared_data / "TSC-2017.yml").read_text()
    catalog_import(text, version="v1")
    changed = text.replace("Integrity and Ethics", "Something else", 1)
    with pytest.raises(CatalogError, match="already imported with other content"):
        catalog_import(changed, version="v1")
    framework, created = catalog_import(changed, version="v2")
    assert created and framework.criteria.get(code="CC1.1").title == "Something else"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- not a mapping", "mapping"),
        ("name: TSC\nXX1.1:\n  family: XX1\n  name: x\n", "not a criterion id"),
        ("name: TSC\nCC1.1:\n  family: CC2\n  name: x\n", "does not belong"),
        ("name: TSC\nCC1.1:\n  family: CC1\n", "needs at least a name"),
        ("name: TSC\n", "no criteria"),
    ],
)
def test_malformed_catalogs_are_refused(text: str, message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        catalog_parse(text)


def test_import_command_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_catalog", str(tmp_path / "missing.yml"), "--version", "x")


def test_document_labels_keep_their_own_numbering_and_map_by_content() -> None:
    catalog_ensure()
    mapping = {
        c.document_label: {x.code for x in c.criteria.all()}
        for c in Control.objects.prefetch_related("criteria")
    }
    assert "CC1.3" in mapping["CC1.1 Organizational structure"]
    assert "CC1.1" not in mapping["CC1.1 Organizational structure"]
    assert "CC6.2" in mapping["CC5.2 Registration"]
    assert "CC6.2" in mapping["CC5.3 Termination"]


def test_seed_covers_every_area_and_every_criterion() -> None:
    catalog_ensure()
    seed = yaml.safe_load(CONTROLS_SEED.read_text())
    for item in seed:
        assert item["owner"] and item["description"] and item["criteria"], item["code"]
    labels = " ".join(item["label"] + " " + item["name"] for item in seed).lower()
    for area in (
        "organizational structure", "role-based", "audit log", "separation of duties",
        "password", "session", "encryption", "security communication", "risk",
        "performance monitoring", "logical access", "registration", "termination",
        "authentication", "least privilege", "access reviews", "threat protection",
        "data transmission", "threat detection", "system monitoring", "incident",
        "change management", "capacity", "backup", "processing", "confidential",
        "disposal", "privacy notice", "consent", "collection", "retention",
        "access and correction",
        "disclosure", "quality", "monitoring and enforcement",
    ):  # fmt: skip
        assert area in labels, area
    mapped = {code for item in seed for code in item["criteria"]}
    shipped = {item["code"] for item in catalog_parse(SHIPPED_CATALOG.read_text())}
    assert mapped == shipped


def test_seeding_keeps_an_officers_edit() -> None:
    catalog_ensure()
    Control.objects.filter(code="CX-ORG-01").update(description="Edited by the officer.")
    Control.objects.filter(code="CX-ORG-02").delete()
    catalog_ensure()
    assert Control.objects.get(code="CX-ORG-01").description == "Edited by the officer."
    assert Control.objects.filter(code="CX-ORG-02").exists()
