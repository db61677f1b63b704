"""The schema.org Dataset of a version: Google Dataset Search's requirements, and a script
block that no value can close."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from dandelion_web.landing.citation import citable
from dandelion_web.landing.jsonld import (
    DESCRIPTION_MAX,
    DESCRIPTION_MIN,
    Links,
    dataset,
    description_for_search,
    script_text,
)

PAGE = "https://web.example.org/dandiset/000123/0.240315.1200"
LINKS = Links(
    page=PAGE,
    catalog_name="DANDELION",
    catalog_url="https://web.example.org",
    assets="https://api.example.org/api/dandisets/000123/versions/0.240315.1200/assets/",
)


def metadata(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": "Place cells in CA1",
        "description": "Tetrode recordings of CA1 place cells in mice running on a linear track.",
        "identifier": "DANDELION:000123",
        "version": "0.240315.1200",
        "doi": "10.80507/dandelion.000123/0.240315.1200",
        "datePublished": "2024-03-15T12:00:31+00:00",
        "license": ["spdx:CC-BY-4.0"],
        "keywords": ["hippocampus"],
        "access": [{"schemaKey": "AccessRequirements", "status": "dandi:OpenAccess"}],
        "citation": "Lovelace, Ada (2023) Place cells in CA1 ...",
        "contributor": [
            {"schemaKey": "Person", "name": "Lovelace, Ada", "identifier": "0000-0002-1825-0097",
             "includeInCitation": True, "affiliation": [{"name": "Analytical Society"}]},
            {"schemaKey": "Organization", "name": "NIH", "roleName": ["dcite:Funder"],
             "identifier": "https://ror.org/01cwqze88", "awardNumber": "R01-1"},
        ],
        "assetsSummary": {
            "numberOfFiles": 2, "numberOfBytes": 10,
            "measurementTechnique": [{"schemaKey": "MeasurementTechniqueType",
                                      "name": "spike sorting technique"}],
            "variableMeasured": ["Units", "ElectricalSeries"],
        },
        "manifestLocation": ["https://s3.example.org/b/dandisets/000123/0.240315.1200/assets.yaml"],
    }  # fmt: skip
    document.update(changes)
    return document


def build(**changes: Any) -> dict[str, Any]:
    document = metadata(**changes)
    work = citable(document, publisher="DANDELION Archive", url=PAGE)
    return dataset(document, work, LINKS, modified="2024-03-16T00:00:00+00:00")


def test_a_published_version_is_a_full_dataset() -> None:
    found = build()
    assert found["@context"] == "https://schema.org/"
    assert found["@type"] == "Dataset"
    assert found["name"] == "Place cells in CA1"
    assert found["identifier"] == "https://doi.org/10.80507/dandelion.000123/0.240315.1200"
    assert found["url"] == PAGE
    assert found["version"] == "0.240315.1200"
    assert found["license"] == "https://spdx.org/licenses/CC-BY-4.0.html"
    assert found["creator"] == [
        {"@type": "Person", "name": "Lovelace, Ada", "givenName": "Ada", "familyName": "Lovelace",
         "sameAs": "https://orcid.org/0000-0002-1825-0097",
         "affiliation": [{"@type": "Organization", "name": "Analytical Society"}]},
    ]  # fmt: skip
    assert found["keywords"] == ["hippocampus"]
    assert found["dateModified"] == "2024-03-16T00:00:00+00:00"
    assert found["datePublished"] == "2024-03-15T12:00:31+00:00"
    assert found["isAccessibleForFree"] is True
    assert found["measurementTechnique"] == ["spike sorting technique"]
    assert found["variableMeasured"] == ["Units", "ElectricalSeries"]
    assert found["funder"] == [
        {"@type": "Organization", "name": "NIH", "sameAs": "https://ror.org/01cwqze88"}
    ]
    assert found["includedInDataCatalog"] == {
        "@type": "DataCatalog", "name": "DANDELION", "url": "https://web.example.org",
    }  # fmt: skip
    assert found["distribution"] == [
        {"@type": "DataDownload", "contentUrl": LINKS.assets, "encodingFormat": "application/json"},
        {"@type": "DataDownload", "encodingFormat": "application/ld+json",
         "contentUrl": "https://s3.example.org/b/dandisets/000123/0.240315.1200/assets.jsonld"},
    ]  # fmt: skip
    assert found["creditText"] == "Lovelace, Ada (2023) Place cells in CA1 ..."


def test_a_draft_is_identified_by_its_dandi_identifier_and_an_embargo_is_not_free() -> None:
    found = build(doi=None, datePublished=None, access=[{"status": "dandi:EmbargoedAccess"}])
    assert found["identifier"] == "DANDELION:000123"
    assert found["isAccessibleForFree"] is False
    assert "datePublished" not in found


def meets_google_dataset_requirements(found: dict[str, Any]) -> bool:
    return (
        bool(found.get("name"))
        and DESCRIPTION_MIN <= len(found.get("description", "")) <= DESCRIPTION_MAX
        and bool(found.get("creator") or found.get("identifier"))
    )


@pytest.mark.parametrize("description", ["", "Short.", "x" * 49, "word " * 2000, "y" * 6000])
def test_every_description_is_within_googles_limits(description: str) -> None:
    found = build(description=description, contributor=[])
    assert meets_google_dataset_requirements(found)


def test_a_short_description_is_completed_with_what_the_dandiset_is() -> None:
    text = description_for_search("Mice.", name="CA1", identifier="D:1", archive="X Archive")
    assert text.startswith("Mice. CA1 (D:1) is a dataset of neurophysiology data in the X Archive.")
    assert len(text) >= DESCRIPTION_MIN


def test_a_long_description_is_cut_at_a_word() -> None:
    text = description_for_search("word " * 2000, name="n", identifier="i", archive="a")
    assert len(text) <= DESCRIPTION_MAX
    assert text.endswith("word…")
    within = "z" * 4000 + " tail"
    assert description_for_search(within, name="n", identifier="i", archive="a") == within


class Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []
        self.tags: list[str] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._inside = tag == "script"
        if self._inside:
            self.blocks.append("")

    def handle_endtag(self, tag: str) -> None:
        self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.blocks[-1] += data


def test_no_value_can_close_the_script_block_and_all_parse_back() -> None:
    hostile = "</script><script>alert(1)</script> & <!-- \u2028 a description long enough."
    document = build(name="<script>alert(1)</script>", description=hostile)
    text = str(script_text(document))
    assert not re.search(r"[<>&]", text)
    page = f'<script type="application/ld+json">{text}</script><p>after</p>'
    parser = Scripts()
    parser.feed(page)
    assert parser.tags == ["script", "p"]  # the hostile text opened no tag
    parsed = json.loads(parser.blocks[0])
    assert parsed["name"] == "<script>alert(1)</script>"
    assert parsed["description"] == hostile
