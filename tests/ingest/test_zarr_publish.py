"""Publishing a dandiset that holds a zarr asset (DANDI cannot, issue #2915): the published
version shares the asset row and so its snapshot; clients see the snapshot as its `zarr`
there, the live archive in the draft; the manifests and the summary include the zarr."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from conftest import auth
from factories import create_asset, create_dandiset, create_user, create_zarr, ingest_snapshot
from localstack import PUBLISHABLE
from s3 import read_range
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import AssetStatus, VersionStatus
from dandelion_common.db.models import Asset, Dandiset, User, Version, ZarrArchive, ZarrSnapshot
from dandelion_common.jobs.contracts import PublishRequest
from dandelion_common.schema import SCHEMA_VERSION
from dandelion_common.settings import Settings
from dandelion_common.storage import S3Storage, manifest_key
from dandelion_ingest.manifests import write_manifests
from dandelion_ingest.publish import publish_draft

PATH = "sub-01/sub-01_sample-1_SPIM.ome.zarr"


async def publishing_with_zarr(
    client: httpx.AsyncClient, session: AsyncSession
) -> tuple[Dandiset, Version, User, Asset, ZarrArchive, ZarrSnapshot]:
    """A draft holding a Valid blob asset and a Valid zarr asset, ready to publish."""
    owner, key = await create_user(session)
    dandiset, draft = await create_dandiset(session, owner=owner)
    blob_asset = await create_asset(session, version=draft, path="sub-01/sub-01_ecephys.nwb")
    blob_asset.metadata_ = {
        **blob_asset.metadata_, "schemaVersion": SCHEMA_VERSION,
        "encodingFormat": "application/x-nwb",
    }  # fmt: skip
    archive = await create_zarr(session, dandiset, name=PATH)
    first = await ingest_snapshot(session, archive, 300)
    metadata = {"path": PATH, "schemaVersion": SCHEMA_VERSION}
    response = await client.post(
        f"/api/dandisets/{dandiset.id:06}/versions/draft/assets/",
        json={"zarr_id": str(archive.id), "metadata": metadata},
        headers=auth(key),
    )
    assert response.status_code == 200, response.text
    asset = await session.get(Asset, uuid.UUID(response.json()["asset_id"]))
    assert asset is not None
    await session.refresh(draft)
    for held in (blob_asset, asset):
        held.status = AssetStatus.VALID
    draft.metadata_ = {**draft.metadata_, **PUBLISHABLE}
    draft.status = VersionStatus.PUBLISHING
    await session.flush()
    return dandiset, draft, owner, asset, archive, first


async def test_published_zarr_assets_point_at_their_snapshot(
    api_client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    dandiset, _, owner, asset, archive, first = await publishing_with_zarr(api_client, session)
    request = PublishRequest(dandiset_id=dandiset.id, user_id=owner.id)
    published = await publish_draft(session, settings, request)
    assert published is not None
    summary = published.metadata_["assetsSummary"]
    assert (summary["numberOfFiles"], summary["numberOfBytes"]) == (
        2,
        300 + len(b"sub-01/sub-01_ecephys.nwb"),
    )

    versions = f"/api/dandisets/{dandiset.id:06}/versions"

    async def zarr_item(version: str) -> dict[str, Any]:
        listed = (await api_client.get(f"{versions}/{version}/assets/", params={"zarr": 1})).json()
        [item] = listed["results"]
        return dict(item)

    assert (await zarr_item(published.version))["zarr"] == str(first.id)
    assert (await zarr_item("draft"))["zarr"] == str(archive.id)
    info = (await api_client.get(f"/api/assets/{asset.id}/info/")).json()
    assert info["zarr"] == str(first.id)  # the row is published: served as published
    nested = (
        await api_client.get(f"{versions}/{published.version}/assets/{asset.id}/info/")
    ).json()
    assert (nested["zarr"], nested["size"]) == (str(first.id), 300)

    # A later ingest makes a new snapshot (and, for the draft, a new asset row): the
    # published asset keeps the digest and size it was published with.
    await ingest_snapshot(session, archive, 999)
    frozen = (await api_client.get(f"{versions}/{published.version}/assets/{asset.id}/")).json()
    assert frozen["digest"] == {"dandi:dandi-zarr-checksum": first.checksum}
    assert frozen["contentSize"] == 300
    assert "datePublished" in frozen


async def test_manifests_list_the_zarr_asset(
    api_client: httpx.AsyncClient, session: AsyncSession, settings: Settings, storage: S3Storage
) -> None:
    dandiset, _, owner, asset, archive, first = await publishing_with_zarr(api_client, session)
    request = PublishRequest(dandiset_id=dandiset.id, user_id=owner.id)
    published = await publish_draft(session, settings, request)
    assert published is not None

    await write_manifests(session, settings, storage, published)

    key = manifest_key(dandiset.id, published.version, "assets.jsonld")
    head = await storage.head(key)
    assert head is not None
    documents = json.loads(await read_range(storage, key, 0, head.size - 1))
    assert sorted(d["path"] for d in documents) == ["sub-01/sub-01_ecephys.nwb", PATH]
    [zarr] = [d for d in documents if d["path"] == PATH]
    assert zarr["id"] == f"dandiasset:{asset.id}"
    assert zarr["digest"] == {"dandi:dandi-zarr-checksum": first.checksum}
    assert (zarr["contentSize"], zarr["encodingFormat"]) == (300, "application/x-zarr")
    assert zarr["contentUrl"][1].endswith(f"/{settings.s3.zarr_bucket_name}/zarr/{archive.id}/")
    assert "datePublished" in zarr
