"""An asset's page: what the file is, its metadata as a definition list, its links."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from web.pages.files.browsing import parse, seed

from dandelion_common.settings import Settings

PATH = "sub-mouse1/sub-mouse1_ses-1_ecephys.nwb"
METADATA: dict[str, Any] = {
    "wasAttributedTo": [
        {
            "schemaKey": "Participant",
            "identifier": "mouse1",
            "species": {"schemaKey": "SpeciesType", "name": "Mus musculus - House mouse"},
            "sex": {"schemaKey": "SexType", "name": "Male"},
            "age": {"schemaKey": "PropertyValue", "value": "P90D"},
        }
    ],
    "wasGeneratedBy": [
        {"schemaKey": "Session", "name": "ses-1", "description": "Running in the dark"}
    ],
    "approach": [{"schemaKey": "ApproachType", "name": "electrophysiological approach"}],
    "measurementTechnique": [
        {"schemaKey": "MeasurementTechniqueType", "name": "spike sorting technique"}
    ],
    "variableMeasured": [{"schemaKey": "PropertyValue", "value": "ElectricalSeries"}],
}


async def test_the_asset_page_shows_the_file_and_its_metadata(
    web_client: httpx.AsyncClient,
    api_client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
) -> None:
    seeded = await seed(api_client, session, {PATH: (b"x" * 2048, METADATA)})
    asset_id = seeded.ids[PATH]
    answer = await web_client.get(seeded.asset(PATH))
    assert answer.status_code == 200
    page = parse(answer.text)
    terms = page.terms
    assert terms["Path"] == [PATH]
    assert terms["Size"] == ["2.0 KB (2,048 bytes)"]
    assert terms["Encoding format"] == ["application/x-nwb"]
    assert terms["Asset id"] == [asset_id]
    assert terms["Digest dandi:dandi-etag"][0].endswith("-1")
    assert len(terms["Digest dandi:sha2-256"][0]) == 64
    api = settings.api.api_url
    assert f"{api}/assets/{asset_id}/download/" in terms["Content URLs"]
    assert terms["Subject"] == ["mouse1"]
    assert terms["Species"] == ["Mus musculus - House mouse"]
    assert terms["Sex"] == ["Male"]
    assert terms["Age"] == ["P90D"]
    assert terms["Session"] == ["ses-1 · Running in the dark"]
    assert terms["Approaches"] == ["electrophysiological approach"]
    assert terms["Measurement techniques"] == ["spike sorting technique"]
    assert terms["Variables measured"] == ["ElectricalSeries"]
    assert terms["Access"] == ["dandi:OpenAccess"]
    assert page.link("Download").href == f"{api}/assets/{asset_id}/download/"
    metadata = page.link("Metadata as JSON").href
    assert metadata == f"{api}/dandisets/{seeded.dandiset_id}/versions/draft/assets/{asset_id}/"
    back = page.link("Back to the folder").href
    assert back == f"{seeded.files}?location=sub-mouse1"
    assert page.link("sub-mouse1").href == back  # the breadcrumb of its folders
    assert "<h1>sub-mouse1_ses-1_ecephys.nwb</h1>" in answer.text


async def test_hostile_metadata_is_escaped(
    web_client: httpx.AsyncClient, api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    hostile = {
        "wasAttributedTo": [
            {"schemaKey": "Participant", "species": {"name": "<script>alert(1)</script>"}}
        ],
        "wasGeneratedBy": [
            {"schemaKey": "Session", "description": "</script><img src=x onerror=alert(2)>"}
        ],
        "variableMeasured": [{"value": {"nested": "objects are skipped"}}],
        "encodingFormat": '"><svg onload=alert(3)>',
    }
    seeded = await seed(api_client, session, {"a.nwb": (b"a", hostile)})
    answer = await web_client.get(seeded.asset("a.nwb"))
    assert answer.status_code == 200
    for raw in ("<script>alert", "<img src=x", "<svg onload"):
        assert raw not in answer.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in answer.text
    assert "objects are skipped" not in answer.text
    assert "Variables measured" not in answer.text


async def test_unknown_and_malformed_assets_are_404_pages(
    web_client: httpx.AsyncClient, api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    seeded = await seed(api_client, session, {"a.nwb": b"a"})
    other = await seed(api_client, session, {"b.nwb": b"b"})
    base = f"/dandiset/{seeded.dandiset_id}/draft/assets"
    for path in (
        f"{base}/0b0e0b0e-0000-4000-8000-000000000000",  # no such asset
        f"{base}/{other.ids['b.nwb']}",  # an asset of another dandiset
        f"{base}/not-a-uuid",
        f"/dandiset/{seeded.dandiset_id}/0.240101.1200/assets/{seeded.ids['a.nwb']}",
    ):
        answer = await web_client.get(path)
        assert answer.status_code == 404, path
        assert "<h1>Not found</h1>" in answer.text
