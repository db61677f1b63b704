"""Metadata read into the landing page's parts, whatever shape a draft's JSON has."""

from __future__ import annotations

import pytest

from dandelion_web.landing import fields


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("dcite:ContactPerson", "Contact person"),
        ("dandi:EmbargoedAccess", "Embargoed access"),
        ("dcite:IsDescribedBy", "Is described by"),
        ("dcite:JournalArticle", "Journal article"),
        ("", ""),
    ],
)
def test_schema_terms_read_as_words(term: str, expected: str) -> None:
    assert fields.label(term) == expected


def test_access_of_an_embargoed_version_names_the_end_of_its_embargo() -> None:
    found = fields.access(
        {"access": [{"status": "dandi:EmbargoedAccess", "embargoedUntil": "2026-01-31"}]}
    )
    assert found == fields.Access("Embargoed access", False, "2026-01-31")
    assert fields.access({}) == fields.Access("Open access", True, None)


def test_contributors_and_funders() -> None:
    metadata = {
        "contributor": [
            {"schemaKey": "Person", "name": "Lovelace, Ada",
             "identifier": "https://orcid.org/0000-0002-1825-0097", "roleName": ["dcite:Author"],
             "affiliation": [{"name": "Society", "identifier": "https://ror.org/05xg72x27"}, "x"]},
            {"schemaKey": "Organization", "name": "NIH", "roleName": ["dcite:Funder"],
             "identifier": "https://ror.org/01cwqze88", "awardNumber": "R01"},
            {"schemaKey": "Person"},  # no name: not shown
            "not a contributor",
        ]
    }  # fmt: skip
    people = fields.contributors(metadata)
    assert [c.name for c in people] == ["Lovelace, Ada", "NIH"]
    ada, nih = people
    assert ada.orcid == "0000-0002-1825-0097"  # a URL is read as the bare id
    assert ada.affiliations == (fields.Affiliation("Society", "https://ror.org/05xg72x27"),)
    assert (ada.in_citation, nih.in_citation) == (True, False)
    assert (nih.ror, nih.award, nih.roles) == ("https://ror.org/01cwqze88", "R01", ("Funder",))
    assert fields.funders(metadata) == [nih]


def test_related_resources_keep_their_links_as_written() -> None:
    found = fields.related(
        {
            "relatedResource": [
                {"identifier": "doi:10.1038/nature03721", "relation": "dcite:IsDescribedBy"},
                {"name": "Evil", "url": "javascript:alert(1)", "relation": "dcite:IsCitedBy"},
                {"relation": "dcite:IsCitedBy"},  # nothing to show
            ]
        }
    )
    assert [(r.name, r.url) for r in found] == [
        ("https://doi.org/10.1038/nature03721", "https://doi.org/10.1038/nature03721"),
        ("Evil", "javascript:alert(1)"),  # the template's safe_url drops it
    ]


def test_licenses_and_the_summary() -> None:
    assert fields.licenses({"license": ["spdx:CC0-1.0", 3]}) == [
        fields.License("CC0-1.0", "https://spdx.org/licenses/CC0-1.0.html")
    ]
    summary = fields.summary(
        {
            "assetsSummary": {
                "numberOfFiles": 3,
                "numberOfBytes": True,
                "species": [{"name": "Mouse"}],
            }
        }
    )
    assert (summary.files, summary.bytes, summary.species) == (3, None, ["Mouse"])
    assert fields.summary({"assetsSummary": "odd"}).files is None


def test_manifests_sit_beside_the_published_assets_yaml() -> None:
    folder = "https://s3.example.org/b/dandisets/000123/0.240315.1200/"
    found = fields.manifests({"manifestLocation": [folder + "assets.yaml"]})
    assert [m.url for m in found] == [
        folder + name
        for name in ("dandiset.jsonld", "dandiset.yaml", "assets.jsonld", "assets.yaml",
                     "collection.jsonld")
    ]  # fmt: skip
    # A draft's manifestLocation is the API's asset list: no manifest files.
    draft = {
        "manifestLocation": ["https://api.example.org/api/dandisets/000123/versions/draft/assets/"]
    }
    assert fields.manifests(draft) == []
