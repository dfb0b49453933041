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


# Each seeded control, the official criterion its content answers first, and
# words of that criterion's official text that say so. The document's own
# label plays no part: the mapping follows what the control does.
MAPPED_BY_CONTENT = {
    "CX-ORG-01": ("CC1.3", "structures, reporting lines"),
    "CX-ORG-02": ("CC6.3", "based on roles"),
    "CX-AUD-01": ("CC7.2", "monitors system components"),
    "CX-AUD-02": ("CC6.3", "segregation of duties"),
    "CX-POL-01": ("CC5.3", "through policies"),
    "CX-COM-01": ("CC2.2", "internally communicates"),
    "CX-RSK-01": ("CC3.2", "identifies risks"),
    "CX-MON-01": ("CC4.1", "ongoing and/or separate evaluations"),
    "CX-ACC-01": ("CC6.1", "logical access security"),
    "CX-ACC-02": ("CC6.2", "registers and authorizes new"),
    "CX-ACC-03": ("CC6.2", "credentials are removed"),
    "CX-ENC-01": ("CC6.7", "protects it during transmission"),
    "CX-ATH-01": ("CC6.1", "logical access security"),
    "CX-ACC-04": ("CC6.3", "least privilege"),
    "CX-THR-01": ("CC6.6", "threats from sources outside"),
    "CX-TRN-01": ("CC6.7", "transmission"),
    "CX-DET-01": ("CC7.1", "detection and monitoring procedures"),
    "CX-MON-02": ("CC7.2", "monitors system components"),
    "CX-INC-01": ("CC7.3", "evaluates security events"),
    "CX-CHG-01": ("CC8.1", "approves, and implements changes"),
    "CX-CAP-01": ("A1.1", "processing capacity"),
    "CX-BCK-01": ("A1.2", "back-up processes"),
    "CX-PI-01": ("PI1.3", "system processing"),
    "CX-CON-01": ("C1.1", "confidential information"),
    "CX-CON-02": ("C1.2", "disposes of confidential information"),
    "CX-PRV-01": ("P1.1", "provides notice"),
    "CX-PRV-02": ("P2.1", "consent"),
    "CX-PRV-03": ("P3.1", "collected"),
    "CX-PRV-04": ("P4.3", "disposes of personal information"),
    "CX-PRV-05": ("P5.1", "access their stored personal information"),
    "CX-PRV-06": ("P6.1", "discloses personal information to third parties"),
    "CX-PRV-07": ("P7.1", "accurate, up-to-date"),
    "CX-PRV-08": ("P8.1", "complaints"),
    "CX-HR-01": ("CC1.4", "competent individuals"),
    "CX-GOV-01": ("CC1.2", "exercises oversight"),
    "CX-VEN-01": ("CC9.2", "vendors"),
    "CX-PHY-01": ("CC6.4", "physical access"),
    "CX-AUD-03": ("CC4.2", "deficiencies"),
}


def test_every_seeded_control_maps_by_content_to_the_official_text(shared_data: Path) -> None:
    catalog_ensure()
    official = _official(shared_data)
    seeded = {c.code: c for c in Control.objects.prefetch_related("criteria")}
    assert set(MAPPED_BY_CONTENT) == set(seeded)
    for code, (criterion, words) in MAPPED_BY_CONTENT.items():
        mapped = {x.code for x in seeded[code].criteria.all()}
        assert criterion in mapped, (code, criterion, mapped)
        text = " ".join(official[criterion].get("description", "").split()).lower()
        assert words in text, (code, criterion, words)


def test_document_labels_are_kept_beside_the_mapping_and_never_decide_it() -> None:
    catalog_ensure()
    seed = {item["code"]: item for item in yaml.safe_load(CONTROLS_SEED.read_text())}
    stored = dict(Control.objects.values_list("code", "document_label"))
    label_code = re.compile(r"^(CC\d\.\d|A1\.\d|PI1\.\d|C1\.\d|P\d(\.\d)?) \S")
    for code, item in seed.items():
        assert stored[code] == item["label"], code
        assert isinstance(item["label_confirmed"], bool), code
        if item["label"]:
            assert label_code.match(item["label"]), (code, item["label"])
    # The three labels the specification gives word for word, and where their
    # content puts them: not under the criterion their number suggests.
    confirmed = {c: i["label"] for c, i in seed.items() if i["label_confirmed"]}
    assert confirmed == {
        "CX-ORG-01": "CC1.1 Organizational structure",
        "CX-ACC-02": "CC5.2 Registration",
        "CX-ACC-03": "CC5.3 Termination",
    }
    mapping = {
        c.code: {x.code for x in c.criteria.all()}
        for c in Control.objects.prefetch_related("criteria")
    }
    assert "CC1.3" in mapping["CX-ORG-01"] and "CC1.1" not in mapping["CX-ORG-01"]
    assert "CC6.2" in mapping["CX-ACC-02"] and "CC5.2" not in mapping["CX-ACC-02"]
    assert "CC6.2" in mapping["CX-ACC-03"] and "CC5.3" not in mapping["CX-ACC-03"]
    # Controls outside the document's areas carry no label of its numbering.
    unlabelled = {c for c, i in seed.items() if not i["label"]}
    assert unlabelled == {"CX-HR-01", "CX-GOV-01", "CX-VEN-01", "CX-PHY-01", "CX-AUD-03"}


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
