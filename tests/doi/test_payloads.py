"""DOI strings and DataCite payloads, built from metadata as the archive serves it: the draft
document of `full_metadata`, and that document published the way DANDI publishes it."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from doi.fake_datacite import FakeDataCite

from dandelion_common.db.enums import EmbargoStatus
from dandelion_common.db.models import Dandiset, Version
from dandelion_common.metadata import full_metadata
from dandelion_common.schema import SCHEMA_VERSION
from dandelion_common.settings import Environment, InstanceSettings, Settings
from dandelion_doi.datacite import DataCiteClient
from dandelion_doi.exceptions import PayloadInvalid
from dandelion_doi.payloads import (
    concept_attributes,
    concept_doi,
    version_attributes,
    version_doi,
)

PREFIX = "10.80507"
DANDISET_ID = 7
VERSION = "0.240102.1530"
EARLIER = "0.231201.0900"
OWNER = {
    "schemaKey": "Person",
    "name": "Owner, Eve",
    "email": "eve@example.org",
    "identifier": "0000-0002-1825-0097",
    "roleName": ["dcite:ContactPerson", "dcite:Author"],
    "includeInCitation": True,
    "affiliation": [{"schemaKey": "Affiliation", "name": "MIT"}],
}
CURATOR = {
    "schemaKey": "Person",
    "name": "Helper, Hal",
    "roleName": ["dcite:DataCurator"],
    "includeInCitation": False,
}
FUNDER = {
    "schemaKey": "Organization",
    "name": "National Institute of Mental Health",
    "identifier": "https://ror.org/04xeg9z08",
    "roleName": ["dcite:Funder"],
    "awardNumber": "R01MH000000",
    "includeInCitation": False,
}
PREPRINT = {
    "schemaKey": "Resource",
    "identifier": "doi:10.1101/2024.01.01.000001",
    "relation": "dcite:IsDescribedBy",
    "name": "The preprint",
}


@pytest.fixture
def settings(dandischema_instance: InstanceSettings) -> Settings:
    """Overrides the session's `settings`, which starts servers these tests do not need."""
    return Settings(environment=Environment.TEST, instance=dandischema_instance)


def draft_metadata(settings: Settings, **stored: Any) -> dict[str, Any]:
    """The draft document the API serves for dandiset 7."""
    dandiset = Dandiset(
        id=DANDISET_ID,
        embargo_status=EmbargoStatus.OPEN,
        created=datetime(2023, 11, 30, tzinfo=UTC),
    )
    metadata = {
        "schemaKey": "Dandiset",
        "schemaVersion": SCHEMA_VERSION,
        "description": "Extracellular recordings in mouse V1.",
        "license": ["spdx:CC-BY-4.0"],
        "contributor": [OWNER, CURATOR, FUNDER],
        "keywords": ["mouse", "V1"],
        "relatedResource": [PREPRINT],
        **stored,
    }
    draft = Version(dandiset_id=DANDISET_ID, version="draft", name="Mouse V1", metadata_=metadata)
    return full_metadata(settings, dandiset, draft)


def published(settings: Settings, draft: dict[str, Any], version: str = VERSION) -> dict[str, Any]:
    """`draft` as the publish job freezes it (DANDI's publish fields)."""
    when = datetime(2024, 1, 2, 15, 30, tzinfo=UTC).isoformat()
    url = f"{settings.instance.web_url}/dandiset/{DANDISET_ID:06}/{version}"
    software = {"schemaKey": "Software", "identifier": "RRID:SCR_017571",
                "name": "Dandelion API", "version": "0.1.0"}  # fmt: skip
    return {
        **copy.deepcopy(draft),
        "version": version,
        "id": f"{draft['identifier']}/{version}",
        "url": url,
        "doi": version_doi(PREFIX, settings.instance.name, DANDISET_ID, version),
        "datePublished": when,
        "publishedBy": {
            "schemaKey": "PublishActivity",
            "id": "urn:uuid:2c9a3b2e-8d4f-4f3e-9a41-0f7c1e6f9d10",
            "name": "DANDI publish",
            "startDate": when,
            "endDate": when,
            "wasAssociatedWith": [
                {**software, "id": "urn:uuid:8a1f0c9e-3f0b-4d55-a2b7-6e0e3d1c2b44"}
            ],
        },
        "assetsSummary": {"schemaKey": "AssetsSummary", "numberOfBytes": 4096, "numberOfFiles": 2},
    }


def concept(settings: Settings) -> str:
    return concept_doi(PREFIX, settings.instance.name, DANDISET_ID)


def landing(settings: Settings) -> str:
    return f"{settings.instance.web_url}/dandiset/{DANDISET_ID:06}"


def relations(attributes: dict[str, Any], relation: str) -> list[str]:
    return [
        r["relatedIdentifier"]
        for r in attributes["relatedIdentifiers"]
        if r["relationType"] == relation and r["relatedIdentifierType"] == "DOI"
    ]


def assert_valid_for_datacite(attributes: dict[str, Any]) -> None:
    from dandischema.datacite import validate_datacite

    validate_datacite({"data": {"attributes": attributes}})


def test_dois_follow_dandis_format() -> None:
    assert concept_doi("10.48324", "DANDI", 27) == "10.48324/dandi.000027"
    assert version_doi("10.48324", "DANDI", 27, "0.210831.2033") == (
        "10.48324/dandi.000027/0.210831.2033"
    )


def test_the_published_test_metadata_is_a_valid_published_dandiset(settings: Settings) -> None:
    from dandischema.metadata import validate

    validate(
        published(settings, draft_metadata(settings)),
        schema_key="PublishedDandiset",
        json_validation=True,
    )


def test_a_findable_version_payload_is_valid_and_links_its_concept(settings: Settings) -> None:
    metadata = published(settings, draft_metadata(settings))

    unchanged = copy.deepcopy(metadata)

    attributes = version_attributes(metadata, concept_doi=concept(settings), findable=True)

    assert metadata == unchanged
    assert attributes["event"] == "publish"
    assert attributes["doi"] == f"{PREFIX}/dandelion.000007/{VERSION}"
    assert (attributes["version"], attributes["url"]) == (VERSION, metadata["url"])
    assert attributes["titles"] == [{"title": "Mouse V1"}]
    assert [c["name"] for c in attributes["creators"]] == ["Owner, Eve"]
    assert [f["funderName"] for f in attributes["fundingReferences"]] == [FUNDER["name"]]
    assert relations(attributes, "IsVersionOf") == [concept(settings)]
    assert relations(attributes, "IsDescribedBy") == ["10.1101/2024.01.01.000001"]
    assert_valid_for_datacite(attributes)


def test_a_version_payload_that_is_not_findable_sends_no_event(settings: Settings) -> None:
    metadata = published(settings, draft_metadata(settings))

    attributes = version_attributes(metadata, concept_doi=None, findable=False)

    assert "event" not in attributes
    assert relations(attributes, "IsVersionOf") == []


def test_a_payload_names_every_list_so_an_update_clears_removed_values(
    settings: Settings,
) -> None:
    draft = draft_metadata(settings, keywords=None, relatedResource=None)
    metadata = published(settings, {k: v for k, v in draft.items() if v is not None})

    attributes = version_attributes(metadata, concept_doi=None, findable=True)

    assert attributes["subjects"] == []
    assert attributes["relatedIdentifiers"] == []


def test_a_version_payload_needs_published_metadata(settings: Settings) -> None:
    with pytest.raises(PayloadInvalid, match="datePublished"):
        version_attributes(draft_metadata(settings), concept_doi=concept(settings), findable=True)


def test_a_version_payload_needs_a_doi(settings: Settings) -> None:
    metadata = {**published(settings, draft_metadata(settings)), "doi": ""}

    with pytest.raises(PayloadInvalid, match="no doi"):
        version_attributes(metadata, concept_doi=concept(settings), findable=True)


def test_a_draft_concept_payload_comes_from_a_new_dandisets_metadata(
    settings: Settings,
) -> None:
    owner = {k: v for k, v in OWNER.items() if k != "roleName"} | {
        "roleName": ["dcite:ContactPerson"]
    }
    draft = draft_metadata(settings, contributor=[owner], keywords=None, relatedResource=None)

    attributes = concept_attributes(
        draft, doi=concept(settings), url=landing(settings), findable=False
    )
    version = version_attributes(published(settings, draft), concept_doi=None, findable=True)

    assert (attributes["doi"], attributes["url"]) == (concept(settings), landing(settings))
    assert attributes["titles"] == [{"title": "Mouse V1"}]
    assert attributes["descriptions"] == version["descriptions"]
    (creator,) = attributes["creators"]
    assert (creator["name"], creator["familyName"], creator["givenName"]) == (
        "Owner, Eve",
        "Owner",
        "Eve",
    )
    assert creator["nameIdentifiers"] == version["creators"][0]["nameIdentifiers"]
    assert attributes["publisher"] == version["publisher"]
    assert attributes["types"] == version["types"]
    assert attributes["publicationYear"] == "2023"
    assert "event" not in attributes
    assert "version" not in attributes


def test_a_draft_concept_payload_tolerates_incomplete_metadata(settings: Settings) -> None:
    metadata = {"name": "", "contributor": [{"name": 3}, "junk", {"schemaKey": "Organization",
                "name": "Lab"}]}  # fmt: skip

    attributes = concept_attributes(
        metadata, doi=concept(settings), url=landing(settings), findable=False
    )

    assert attributes["titles"] == []
    assert attributes["creators"] == [{"name": "Lab", "nameType": "Organizational"}]
    assert "publicationYear" not in attributes


def test_a_concept_cannot_become_findable_from_draft_metadata(settings: Settings) -> None:
    with pytest.raises(PayloadInvalid, match="published version"):
        concept_attributes(
            draft_metadata(settings), doi=concept(settings), url=landing(settings), findable=True
        )


def test_a_findable_concept_payload_comes_from_the_newest_version(settings: Settings) -> None:
    newest = published(settings, draft_metadata(settings))
    earlier = version_doi(PREFIX, settings.instance.name, DANDISET_ID, EARLIER)

    attributes = concept_attributes(
        newest, doi=concept(settings), url=landing(settings), findable=True, version_dois=[earlier]
    )

    assert attributes["event"] == "publish"
    assert (attributes["doi"], attributes["url"]) == (concept(settings), landing(settings))
    assert "version" not in attributes
    assert [a["alternateIdentifier"] for a in attributes["alternateIdentifiers"]] == [
        "https://identifiers.org/DANDELION:000007",
        landing(settings),
    ]
    assert relations(attributes, "HasVersion") == [newest["doi"], earlier]
    assert relations(attributes, "IsVersionOf") == []
    assert attributes["titles"] == [{"title": "Mouse V1"}]
    assert_valid_for_datacite(attributes)


@pytest.mark.parametrize(
    ("doi", "url", "message"),
    [("dandelion.000007", "https://x.org/dandiset/000007", "doi"), (None, "", "needs a url")],
)
def test_a_findable_payload_datacite_would_refuse_is_not_built(
    settings: Settings, doi: str | None, url: str, message: str
) -> None:
    newest = published(settings, draft_metadata(settings))

    with pytest.raises(PayloadInvalid, match=message):
        concept_attributes(newest, doi=doi or concept(settings), url=url, findable=True)


async def test_datacite_accepts_the_payloads_through_a_dandisets_life(
    settings: Settings, fake_datacite: FakeDataCite
) -> None:
    draft = draft_metadata(settings)
    newest = published(settings, draft)
    doi, url = concept(settings), landing(settings)

    async with DataCiteClient(fake_datacite.doi_settings(), publish=True) as client:
        created = await client.put_doi(
            doi, concept_attributes(draft, doi=doi, url=url, findable=False)
        )
        version = await client.put_doi(
            newest["doi"], version_attributes(newest, concept_doi=doi, findable=True)
        )
        promoted = await client.put_doi(
            doi, concept_attributes(newest, doi=doi, url=url, findable=True)
        )

    assert (created.state, version.state, promoted.state) == ("draft", "findable", "findable")
    assert fake_datacite.records[doi].attributes["url"] == url
