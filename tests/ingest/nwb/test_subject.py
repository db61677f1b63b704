"""Species, sex and age normalisation: DANDI's readings of free-form Subject values, offline,
and lenient (None instead of an error) where dandi-cli would fail the extraction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from nwbfiles import SESSION_START, write_nwb

from dandelion_ingest.nwb.extract import extract_file
from dandelion_ingest.nwb.species import match_species
from dandelion_ingest.nwb.subject import PATO_MALE, Age, match_age, match_sex

MOUSE = "http://purl.obolibrary.org/obo/NCBITaxon_10090"


@pytest.mark.parametrize(
    ("value", "uri", "name", "latin"),
    [
        ("Mus musculus", MOUSE, "Mus musculus - House mouse", "Mus musculus"),
        ("mouse", MOUSE, "Mus musculus - House mouse", "Mus musculus"),
        ("  MUS MUSCULUS ", MOUSE, "Mus musculus - House mouse", "Mus musculus"),
        ("Mus musculus - House mouse", MOUSE, "Mus musculus - House mouse", "Mus musculus"),
        ("Mus musculus C57BL/6", MOUSE, "Mus musculus - House mouse", "Mus musculus"),
        (MOUSE, MOUSE, "Mus musculus - House mouse", "Mus musculus"),
        ("https://purl.obolibrary.org/obo/NCBITaxon_10090/", MOUSE, "Mus musculus - House mouse",
         "Mus musculus"),
        ("NCBITaxon:9606", "http://purl.obolibrary.org/obo/NCBITaxon_9606", "Homo sapiens - Human",
         "Homo sapiens"),
        ("rat", "http://purl.obolibrary.org/obo/NCBITaxon_10116",
         "Rattus norvegicus - Norway rat", "Rattus norvegicus"),
        ("rhesus macaque", "http://purl.obolibrary.org/obo/NCBITaxon_9544",
         "Macaca mulatta - Rhesus monkey", "Macaca mulatta"),
        ("zebrafish", "http://purl.obolibrary.org/obo/NCBITaxon_7955", "Danio rerio - Zebra fish",
         "Danio rerio"),
        ("fruit fly", "http://purl.obolibrary.org/obo/NCBITaxon_7227",
         "Drosophila melanogaster - Fruit fly", "Drosophila melanogaster"),
        ("C. elegans", "http://purl.obolibrary.org/obo/NCBITaxon_6239",
         "Caenorhabditis elegans - Roundworm", "Caenorhabditis elegans"),
        ("marmoset", "http://purl.obolibrary.org/obo/NCBITaxon_9483",
         "Callithrix jacchus - Common marmoset", "Callithrix jacchus"),
        ("Mustela putorius furo", "http://purl.obolibrary.org/obo/NCBITaxon_9669",
         "Mustela putorius furo - Domestic ferret", "Mustela putorius furo"),
        # An unknown taxon keeps its URI (dandi-cli would ask ontobee for the label).
        ("http://purl.obolibrary.org/obo/NCBITaxon_9999999",
         "http://purl.obolibrary.org/obo/NCBITaxon_9999999", None, None),
        # Unknown text keeps its name, without an identifier or a search value.
        ("Mustela nivalis", None, "Mustela nivalis", None),
    ],
)  # fmt: skip
def test_species(value: str, uri: str | None, name: str | None, latin: str | None) -> None:
    found = match_species(value)

    assert found is not None
    assert (found.uri, found.name, found.latin) == (uri, name, latin)


@pytest.mark.parametrize("value", [None, "", "   "])
def test_no_species(value: str | None) -> None:
    assert match_species(value) is None


@pytest.mark.parametrize(
    ("value", "code", "name"),
    [
        ("M", "M", "Male"), ("male", "M", "Male"), ("F", "F", "Female"), ("Female", "F", "Female"),
        ("U", "U", "Unknown"), ("unknown", "U", "Unknown"), ("o", "O", "Other"),
        (PATO_MALE, "M", "Male"),
    ],
)  # fmt: skip
def test_sex(value: str, code: str, name: str) -> None:
    found = match_sex(value)

    assert found is not None
    assert (found.code, found.name) == (code, name)


def test_sex_from_an_unknown_uri_keeps_the_uri() -> None:
    found = match_sex("http://purl.obolibrary.org/obo/PATO_0001340")

    assert found is not None
    assert (found.code, found.uri) == (None, "http://purl.obolibrary.org/obo/PATO_0001340")


@pytest.mark.parametrize("value", [None, "", "male-ish", "mf"])
def test_uninterpretable_sex_is_none(value: str | None) -> None:
    assert match_sex(value) is None


@pytest.mark.parametrize(
    ("value", "iso", "reference", "days"),
    [
        ("P90D", "P90D", "Birth", 90.0),
        ("p90d", "P90D", "Birth", 90.0),
        ("P1Y2M", "P1Y2M", "Birth", 365.25 + 2 * 30.4375),
        ("P2W", "P2W", "Birth", 14.0),
        ("P1DT12H", "P1DT12H", "Birth", 1.5),
        ("P1,5D", "P1.5D", "Birth", 1.5),
        ("90 days", "P90D", "Birth", 90.0),
        ("90days", "P90D", "Birth", 90.0),
        ("3 weeks 2 days", "P3W2D", "Birth", 23.0),
        ("2 years, 6 months old", "P2Y6M", "Birth", 2 * 365.25 + 6 * 30.4375),
        ("12 hours", "PT12H", "Birth", 0.5),
        ("1:30:00", "PT1H30M0S", "Birth", 1.5 / 24),
        ("gestational 12 days", "P12D", "Gestational", 12.0),
        ("P1D/P3D", "P1D/P3D", "Birth", 1.0),
        ("/P3D", "/P3D", "Birth", 3.0),
    ],
)  # fmt: skip
def test_age(value: str, iso: str, reference: str, days: float) -> None:
    found = match_age(value)

    assert found is not None
    assert (found.iso, found.reference) == (iso, reference)
    assert found.days == pytest.approx(days)


@pytest.mark.parametrize("value", [None, "", "old", "90 parsecs", "3 days 2 days", "P", "PT", "/"])
def test_unreadable_age_is_none(value: str | None) -> None:
    assert match_age(value) is None


def test_age_days_of_an_iso_duration() -> None:
    assert Age("PT36H", "Birth").days == pytest.approx(1.5)


# -- through a real file ---------------------------------------------------------------------


def extracted(path: Path) -> tuple[str | None, str | None, str | None, float | None]:
    with path.open("rb") as f:
        e = extract_file(f)
    return e.species, e.sex, e.age, e.age_days


def test_free_form_subject_values_are_normalised(tmp_path: Path) -> None:
    path = write_nwb(tmp_path / "x.nwb", subject_id="m", species="mouse", sex="male", age="90 days")

    assert extracted(path) == ("Mus musculus", "M", "P90D", 90.0)


def test_date_of_birth_gives_the_exact_age(tmp_path: Path) -> None:
    born = SESSION_START - timedelta(days=60, hours=6)
    path = write_nwb(tmp_path / "x.nwb", subject_id="m", age=None, date_of_birth=born)

    assert extracted(path)[:3] == ("Mus musculus", "F", "P60DT21600S")
    assert extracted(path)[3] == pytest.approx(60.25)


def test_date_of_birth_wins_over_age(tmp_path: Path) -> None:
    born = datetime(2023, 10, 4, 3, 4, 5, tzinfo=UTC)  # 90 days before the session
    path = write_nwb(tmp_path / "x.nwb", subject_id="m", age="P1Y", date_of_birth=born)

    assert extracted(path)[2:] == ("P90D", 90.0)


def test_uninterpretable_values_are_none_not_errors(tmp_path: Path) -> None:
    path = write_nwb(tmp_path / "x.nwb", subject_id="m", species="Unicornus", sex="?", age="old")

    assert extracted(path) == (None, None, None, None)
