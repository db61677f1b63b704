"""`/dandiset/{id}/{version}` over the real API: every field of a rich published version,
hostile metadata kept inert, the newer-version banner, a draft's validation, the version
picker, 404s (unknown, malformed) and an embargoed dandiset seen anonymously (a deleted
one: test_tombstone.py)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import httpx
from factories import create_asset, create_dandiset, create_user
from localstack import PUBLISHABLE
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import AssetStatus, EmbargoStatus, VersionStatus
from dandelion_common.db.models import Dandiset, Version
from dandelion_common.jobs.contracts import PublishRequest
from dandelion_common.schema import SCHEMA_VERSION
from dandelion_common.settings import Settings
from dandelion_ingest.publish import publish_draft
from dandelion_web.landing.jsonld import DESCRIPTION_MAX, DESCRIPTION_MIN


class Page(HTMLParser):
    """What a crawler reads off a page: meta tags, links, JSON-LD blocks, headings."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.meta: list[dict[str, str | None]] = []
        self.links: list[dict[str, str | None]] = []
        self.hrefs: list[str] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.h1: list[str] = []
        self._open: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "meta":
            self.meta.append(found)
        elif tag == "link":
            self.links.append(found)
        elif tag == "script":
            self.scripts.append((found, ""))
        if tag == "a" and found.get("href"):
            self.hrefs.append(str(found["href"]))
        if tag == "h1":
            self.h1.append("")
        self._open = tag

    def handle_endtag(self, tag: str) -> None:
        self._open = None

    def handle_data(self, data: str) -> None:
        if self._open == "script" and self.scripts:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)
        elif self._open == "h1":
            self.h1[-1] += data

    def named(self, key: str) -> list[str]:
        return [
            str(m.get("content")) for m in self.meta if key in (m.get("name"), m.get("property"))
        ]

    def jsonld(self) -> dict[str, Any]:
        (found,) = [t for a, t in self.scripts if a.get("type") == "application/ld+json"]
        document: dict[str, Any] = json.loads(found)
        return document


def rich_metadata(
    settings: Settings, dandiset: Dandiset, version: str, **changes: Any
) -> dict[str, Any]:
    identifier = f"{settings.instance.name}:{dandiset.id:06}"
    document: dict[str, Any] = {
        "schemaKey": "Dandiset",
        "schemaVersion": SCHEMA_VERSION,
        "name": "Grid cells of the medial entorhinal cortex",
        "description": "Silicon probe recordings of **grid cells** in freely moving rats.",
        "identifier": identifier,
        "id": f"{identifier}/{version}",
        "version": version,
        "url": f"{settings.instance.web_url}/dandiset/{dandiset.id:06}/{version}",
        "doi": f"10.80507/dandelion.{dandiset.id:06}/{version}",
        "datePublished": "2024-03-15T12:00:31+00:00",
        "dateCreated": "2023-11-02T08:00:00+00:00",
        "license": ["spdx:CC-BY-4.0"],
        "keywords": ["entorhinal cortex", "navigation"],
        "access": [{"schemaKey": "AccessRequirements", "status": "dandi:OpenAccess"}],
        "citation": f"Moser, May-Britt (2024) Grid cells (Version {version}) [Data set]. ...",
        "contributor": [
            {"schemaKey": "Person", "name": "Moser, May-Britt", "identifier": "0000-0001-7884-3049",
             "email": "mb@example.org", "roleName": ["dcite:ContactPerson", "dcite:Author"],
             "includeInCitation": True,
             "affiliation": [{"schemaKey": "Affiliation", "name": "Kavli Institute",
                              "identifier": "https://ror.org/05xg72x27"}]},
            {"schemaKey": "Person", "name": "Hafting, Torkel", "roleName": ["dcite:DataCollector"],
             "includeInCitation": True},
            {"schemaKey": "Organization", "name": "Research Council of Norway",
             "identifier": "https://ror.org/00epmv149", "roleName": ["dcite:Funder"],
             "awardNumber": "RCN-223262", "includeInCitation": False},
        ],
        "relatedResource": [
            {"schemaKey": "Resource", "name": "Microstructure of a spatial map",
             "url": "https://doi.org/10.1038/nature03721", "relation": "dcite:IsDescribedBy",
             "resourceType": "dcite:JournalArticle"},
        ],
        "assetsSummary": {
            "schemaKey": "AssetsSummary", "numberOfFiles": 42, "numberOfBytes": 3_500_000_000,
            "numberOfSubjects": 7,
            "species": [{"schemaKey": "SpeciesType", "name": "Rattus norvegicus - Norway rat"}],
            "approach": [{"schemaKey": "ApproachType", "name": "electrophysiological approach"}],
            "measurementTechnique": [{"schemaKey": "MeasurementTechniqueType",
                                      "name": "spike sorting technique"}],
            "variableMeasured": ["Units", "ElectricalSeries"],
            "dataStandard": [{"schemaKey": "StandardsType",
                              "name": "Neurodata Without Borders (NWB)"}],
        },
        "manifestLocation": [
            f"https://s3.example.org/bucket/dandisets/{dandiset.id:06}/{version}/assets.yaml"
        ],
    }  # fmt: skip
    document.update(changes)
    return document


async def add_published(
    session: AsyncSession, dandiset: Dandiset, version: str, metadata: dict[str, Any]
) -> Version:
    row = Version(
        dandiset_id=dandiset.id, version=version, name=str(metadata.get("name")),
        metadata_=metadata, status=VersionStatus.PUBLISHED,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    return row


async def test_a_rich_published_version_shows_every_field(
    web_client: httpx.AsyncClient, session: AsyncSession, web_settings: Settings
) -> None:
    owner, _ = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    version = "0.240315.1200"
    await add_published(session, dandiset, version, rich_metadata(web_settings, dandiset, version))

    answer = await web_client.get(f"/dandiset/{dandiset.id:06}/{version}")

    assert answer.status_code == 200, answer.text
    html, page = answer.text, Page(answer.text)
    doi = f"10.80507/dandelion.{dandiset.id:06}/{version}"
    assert page.h1 == ["Grid cells of the medial entorhinal cortex"]
    assert f"{web_settings.instance.name}:{dandiset.id:06}" in html
    assert f'<a href="https://doi.org/{doi}">{doi}</a>' in html
    assert '<a href="https://spdx.org/licenses/CC-BY-4.0.html">CC-BY-4.0</a>' in html
    assert "Open access" in html
    # Contributors: people and organisations, roles, ORCID, affiliations with their ROR.
    assert "Moser, May-Britt" in html
    assert "Hafting, Torkel" in html
    assert "https://orcid.org/0000-0001-7884-3049" in page.hrefs
    assert "Contact person, Author" in html
    assert "Data collector" in html
    assert '<a href="https://ror.org/05xg72x27">Kavli Institute</a>' in html
    assert 'Research Council of Norway</span> <span class="muted">(organisation)' in html
    # Funding, description as Markdown, keywords, related resources.
    assert "Research Council of Norway: award RCN-223262" in html
    assert "<strong>grid cells</strong>" in html
    assert "<li>entorhinal cortex</li>" in html
    assert "<li>navigation</li>" in html
    assert (
        '<a href="https://doi.org/10.1038/nature03721">Microstructure of a spatial map</a>' in html
    )
    assert '</a> <span class="muted">Is described by · Journal article</span>' in html
    # What the data holds.
    for shown in ("Rattus norvegicus - Norway rat", "electrophysiological approach",
                  "spike sorting technique", "Units, ElectricalSeries",
                  "Neurodata Without Borders (NWB)", "<dd>42</dd>", "<dd>3.5 GB</dd>",
                  "<dd>7</dd>"):  # fmt: skip
        assert shown in html, shown
    # Download: the dandi command, the API's documents and the S3 manifests.
    url = f"{web_settings.instance.web_url}/dandiset/{dandiset.id:06}/{version}"
    assert f"<code>dandi download {url}</code>" in html
    api = f"{web_settings.api.api_url}/dandisets/{dandiset.id:06}/versions/{version}"
    assert f"{api}/" in page.hrefs
    assert f"{api}/assets/" in page.hrefs
    assert any(h.endswith(f"/{version}/dandiset.jsonld") for h in page.hrefs)
    # How to cite: the metadata's citation and the four formats, rendered on the server.
    assert "Moser, May-Britt (2024) Grid cells" in html
    assert (
        "Moser, M.-B., &amp; Hafting, T. (2024). Grid cells of the medial entorhinal cortex" in html
    )
    for summary in ("APA", "BibTeX", "RIS", "CFF"):
        assert f"<summary>{summary}</summary>" in html
    assert "TY  - DATA" in html
    assert "cff-version: 1.2.0" in html
    assert "@misc{" in html
    # Machines: canonical link, citation_* and OpenGraph, JSON-LD.
    assert {"rel": "canonical", "href": url} in page.links
    assert page.named("citation_title") == ["Grid cells of the medial entorhinal cortex"]
    assert page.named("citation_author") == ["Moser, May-Britt", "Hafting, Torkel"]
    assert page.named("citation_publication_date") == ["2024/03/15"]
    assert page.named("citation_doi") == [doi]
    assert page.named("citation_publisher") == [f"{web_settings.instance.name} Archive"]
    assert page.named("og:url") == [url]
    assert page.named("og:type") == ["website"]
    assert page.named("og:title") == ["Grid cells of the medial entorhinal cortex"]
    assert page.named("og:description") == [
        "Silicon probe recordings of grid cells in freely moving rats."
    ]
    document = page.jsonld()
    assert document["identifier"] == f"https://doi.org/{doi}"
    assert document["url"] == url
    assert [c["name"] for c in document["creator"]] == ["Moser, May-Britt", "Hafting, Torkel"]
    assert document["funder"][0]["name"] == "Research Council of Norway"
    assert document["includedInDataCatalog"]["url"] == web_settings.instance.web_url
    assert DESCRIPTION_MIN <= len(document["description"]) <= DESCRIPTION_MAX
    assert "A newer version" not in html


async def test_hostile_metadata_never_appears_unescaped(
    web_client: httpx.AsyncClient, session: AsyncSession, web_settings: Settings
) -> None:
    owner, _ = await create_user(session)
    dandiset, draft = await create_dandiset(session, owner=owner)
    name = "<script>alert(1)</script>"
    description = "</script><script>alert(1)</script> and <img src=x onerror=alert(1)>"
    draft.name = name
    draft.metadata_ = {
        **draft.metadata_, "name": name, "description": description,
        "keywords": ["<b>bold</b>"],
        "contributor": [{"schemaKey": "Person", "name": "<i>Evil</i>, Eve",
                         "url": "javascript:alert(1)", "includeInCitation": True}],
        "relatedResource": [{"name": "click me", "url": "javascript:alert(1)",
                             "relation": "dcite:IsCitedBy"}],
    }  # fmt: skip
    await session.flush()

    answer = await web_client.get(f"/dandiset/{dandiset.id:06}/draft")

    assert answer.status_code == 200, answer.text
    html = answer.text
    assert "<script>alert(1)" not in html
    assert "<img" not in html
    assert "<b>bold" not in html
    assert "<i>Evil" not in html
    assert 'href="javascript:' not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown, as text
    page = Page(html)
    # Only our two scripts: the JSON-LD block and htmx; the description closed neither.
    assert [a.get("type") or a.get("src") for a, _ in page.scripts] == [
        "application/ld+json", "/static/htmx.min.js?v=2.0.11",
    ]  # fmt: skip
    document = page.jsonld()
    assert document["name"] == name
    assert document["description"].startswith(description)
    assert document["keywords"] == ["<b>bold</b>"]
    assert page.named("citation_title") == [name]
    assert page.h1 == [name]


async def test_a_published_versions_url_is_its_landing_page(
    web_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner, _ = await create_user(session)
    dandiset, draft = await create_dandiset(session, owner=owner, name="Place cells")
    draft.metadata_ = {**draft.metadata_, **PUBLISHABLE, "schemaVersion": SCHEMA_VERSION}
    asset = await create_asset(session, version=draft, path="sub-1/sub-1_ecephys.nwb")
    asset.status, draft.status = AssetStatus.VALID, VersionStatus.PUBLISHING
    await session.flush()
    published = await publish_draft(
        session, settings, PublishRequest(dandiset_id=dandiset.id, user_id=owner.id)
    )
    assert published is not None

    url = urlsplit(published.metadata_["url"])
    answer = await web_client.get(url.path)

    assert answer.status_code == 200, answer.text
    assert Page(answer.text).h1 == ["Place cells"]
    assert f"Version {published.version}" in answer.text
    assert published.metadata_["citation"] in answer.text  # the archive's own citation
    assert "AU  - Owner, E" in answer.text


async def test_an_old_version_says_a_newer_one_exists(
    web_client: httpx.AsyncClient, session: AsyncSession, web_settings: Settings
) -> None:
    owner, _ = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    old, new = "0.240101.0000", "0.240601.0000"
    for version in (old, new):
        await add_published(
            session, dandiset, version, rich_metadata(web_settings, dandiset, version)
        )

    older = await web_client.get(f"/dandiset/{dandiset.id:06}/{old}")
    newest = await web_client.get(f"/dandiset/{dandiset.id:06}/{new}")

    assert older.status_code == newest.status_code == 200
    banner = (
        rf'A newer version of this dandiset exists:\s*<a href="/dandiset/{dandiset.id:06}/{new}">'
    )
    assert re.search(banner, older.text)
    assert "A newer version" not in newest.text
    draft = await web_client.get(f"/dandiset/{dandiset.id:06}/draft")
    latest = rf'latest published version is\s*<a href="/dandiset/{dandiset.id:06}/{new}">'
    assert re.search(latest, draft.text)
    # The picker lists every version, the one shown selected.
    assert f'<option value="{old}" selected>' in older.text
    assert f'<option value="{new}">' in older.text
    assert '<option value="draft">' in older.text


async def test_the_version_picker_leads_to_the_chosen_version(
    web_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, _ = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    base = f"/dandiset/{dandiset.id:06}/draft"

    chosen = await web_client.get(base, params={"version": "0.240101.0000"})
    assert chosen.status_code == 303
    assert chosen.headers["location"] == f"/dandiset/{dandiset.id:06}/0.240101.0000"
    same = await web_client.get(base, params={"version": "draft"})  # to the URL without query
    assert (same.status_code, same.headers["location"]) == (303, base)
    bad = await web_client.get(base, params={"version": "../../admin"})
    assert bad.status_code == 400
    assert "not a version name" in bad.text


async def test_a_draft_shows_its_validation(
    web_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, _ = await create_user(session)
    dandiset, draft = await create_dandiset(session, owner=owner, name="Unfinished")
    draft.status = VersionStatus.INVALID
    draft.validation_errors = [
        {
            "field": "contributor",
            "message": "At least one contributor must have role ContactPerson",
        },
        {"field": "license", "message": "field required"},
    ]
    asset = await create_asset(session, version=draft, path="sub-1/bad.nwb")
    asset.status = AssetStatus.INVALID
    asset.validation_errors = [{"field": "subject", "message": "subject_id is missing"}]
    await session.flush()

    answer = await web_client.get(f"/dandiset/{dandiset.id:06}/draft")

    assert answer.status_code == 200, answer.text
    html = answer.text
    assert '<strong class="status">Invalid</strong>' in html
    assert "2 metadata errors" in html
    assert "1 asset error," not in html
    assert "1 asset error." in html
    assert "At least one contributor must have role ContactPerson" in html
    assert "<code>sub-1/bad.nwb</code> (subject): subject_id is missing" in html
    assert "dandi download" in html
    assert "/draft</code>" in html


async def test_a_published_version_shows_no_validation_section(
    web_client: httpx.AsyncClient, session: AsyncSession, web_settings: Settings
) -> None:
    owner, _ = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    version = "0.240315.1200"
    await add_published(session, dandiset, version, rich_metadata(web_settings, dandiset, version))
    answer = await web_client.get(f"/dandiset/{dandiset.id:06}/{version}")
    assert 'id="landing-validation"' not in answer.text


async def test_unknown_and_malformed_addresses_are_404_pages(
    web_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, _ = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    cases = {
        "/dandiset/999999/draft": "There is no dandiset 999999.",
        f"/dandiset/{dandiset.id:06}/0.240101.0000": "has no version 0.240101.0000",
        "/dandiset/12/draft": "There is no dandiset version at this address.",
        f"/dandiset/{dandiset.id:06}/latest": "There is no dandiset version at this address.",
        "/dandiset/abcdef/0.1.2": "There is no dandiset version at this address.",
    }
    for path, message in cases.items():
        answer = await web_client.get(path)
        assert answer.status_code == 404, path
        assert message in answer.text, path
        assert '<meta name="robots" content="noindex">' in answer.text


async def test_an_embargoed_dandiset_shows_anonymous_visitors_nothing_of_it(
    web_client: httpx.AsyncClient, api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, _ = await create_user(session)
    dandiset, draft = await create_dandiset(
        session, owner=owner, name="Secret study", embargo_status=EmbargoStatus.EMBARGOED
    )
    dandiset.embargo_end_date = (datetime.now(UTC) + timedelta(days=365)).date()
    draft.metadata_ = {**draft.metadata_, "description": "Unpublished findings."}
    await session.flush()
    # What the API answers an anonymous caller: 401 on each route the page reads.
    base = f"/api/dandisets/{dandiset.id:06}"
    for route in ("/", "/versions/", "/versions/draft/info/"):
        assert (await api_client.get(base + route)).status_code == 401, route

    answer = await web_client.get(f"/dandiset/{dandiset.id:06}/draft")

    assert answer.status_code == 401
    assert f"Dandiset {dandiset.id:06} is embargoed" in answer.text
    assert "Secret study" not in answer.text
    assert "Unpublished findings" not in answer.text
    assert "application/ld+json" not in answer.text
