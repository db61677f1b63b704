"""Zarr assets in a draft: created, replaced and removed with `zarr_id`, sized by their
snapshot, served with the zarr digest, never downloaded as one file."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from arq.jobs import Job, JobStatus
from conftest import auth
from factories import create_blob, create_dandiset, create_user, create_zarr, ingest_snapshot
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import AssetStatus, EmbargoStatus
from dandelion_common.db.models import (
    Asset,
    AuditRecord,
    Dandiset,
    User,
    Version,
    ZarrArchive,
    ZarrSnapshot,
)
from dandelion_common.jobs.contracts import VALIDATE_ZARR_ASSET, ZarrAssetRef
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.settings import Settings

PATH = "sub-01/sub-01_sample.ome.zarr"


async def archive_of(
    session: AsyncSession, dandiset: Dandiset, *, size: int | None = None, name: str = PATH
) -> ZarrArchive:
    """An archive; with `size`, ingested once (Complete, with a snapshot of that size)."""
    archive = await create_zarr(session, dandiset, name=name)
    if size is not None:
        await ingest_snapshot(session, archive, size)
    return archive


async def snapshot_of(session: AsyncSession, archive: ZarrArchive) -> ZarrSnapshot:
    assert archive.snapshot_id is not None
    snapshot = await session.get(ZarrSnapshot, archive.snapshot_id)
    assert snapshot is not None
    return snapshot


def body(zarr: ZarrArchive, path: str = PATH, **metadata: Any) -> dict[str, Any]:
    return {"zarr_id": str(zarr.id), "metadata": {"path": path, **metadata}}


async def owned(
    session: AsyncSession, embargo: EmbargoStatus = EmbargoStatus.OPEN
) -> tuple[User, str, Dandiset, Version, str]:
    owner, key = await create_user(session)
    dandiset, draft = await create_dandiset(session, owner=owner, embargo_status=embargo)
    return owner, key, dandiset, draft, f"/api/dandisets/{dandiset.id:06}/versions/draft/assets"


async def test_a_zarr_asset_is_sized_by_its_snapshot_and_asks_for_validation(
    api_client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    job_queue: JobQueue,
) -> None:
    _, key, dandiset, draft, base = await owned(session)
    archive = await archive_of(session, dandiset, size=300)
    response = await api_client.post(f"{base}/", json=body(archive), headers=auth(key))
    assert response.status_code == 200, response.text
    out = response.json()
    assert (out["blob"], out["zarr"], out["size"]) == (None, str(archive.id), 300)
    metadata = out["metadata"]
    snapshot = await snapshot_of(session, archive)
    assert metadata["digest"] == {"dandi:dandi-zarr-checksum": snapshot.checksum}
    assert (metadata["contentSize"], metadata["encodingFormat"]) == (300, "application/x-zarr")
    assert metadata["contentUrl"] == [
        f"{settings.api.api_url}/assets/{out['asset_id']}/download/",
        f"{settings.s3.presign_endpoint_url.rstrip('/')}/{settings.s3.zarr_bucket_name}"
        f"/zarr/{archive.id}/",
    ]
    asset = await session.get(Asset, uuid.UUID(out["asset_id"]))
    assert asset is not None
    assert (asset.zarr_snapshot_id, asset.status) == (snapshot.id, AssetStatus.PENDING)
    await session.refresh(draft)
    assert (draft.asset_count, draft.size) == (1, 300)
    folders = (await api_client.get(f"{base}/paths/", params={"path_prefix": "sub-01"})).json()
    [node] = folders["results"]
    assert (node["aggregate_files"], node["aggregate_size"]) == (1, 300)
    assert node["asset"]["url"].endswith(f"/zarr/{archive.id}/")
    payload = ZarrAssetRef(asset_id=asset.id, snapshot_id=snapshot.id)
    job_id = VALIDATE_ZARR_ASSET.job_id(payload)
    assert job_id is not None
    job = Job(job_id, job_queue.redis, _queue_name=VALIDATE_ZARR_ASSET.queue_name)
    assert await job.status() == JobStatus.queued
    audit = await session.scalar(
        select(AuditRecord.details).where(
            AuditRecord.dandiset_id == dandiset.id, AuditRecord.record_type == "add_asset"
        )
    )
    assert audit is not None
    assert (audit["zarr_archive_id"], audit["asset_blob_id"]) == (str(archive.id), None)


async def test_a_zarr_never_ingested_has_no_digest_and_size_zero(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, key, dandiset, draft, base = await owned(session)
    archive = await archive_of(session, dandiset)
    response = await api_client.post(f"{base}/", json=body(archive), headers=auth(key))
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["size"] == 0
    assert "digest" not in out["metadata"]
    assert out["metadata"]["contentSize"] == 0
    asset = await session.get(Asset, uuid.UUID(out["asset_id"]))
    assert asset is not None
    assert asset.zarr_snapshot_id is None
    await session.refresh(draft)
    assert (draft.asset_count, draft.size) == (1, 0)


async def test_replace_and_remove_keep_the_draft_sizes(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, key, dandiset, draft, base = await owned(session)
    archive = await archive_of(session, dandiset, size=300)
    other = await archive_of(session, dandiset, size=50, name="other.zarr")
    created = (await api_client.post(f"{base}/", json=body(archive), headers=auth(key))).json()
    same = await api_client.put(
        f"{base}/{created['asset_id']}/", json=body(archive), headers=auth(key)
    )
    assert same.status_code == 200, same.text
    assert same.json()["asset_id"] == created["asset_id"]  # nothing changed: the same asset
    moved = await api_client.put(
        f"{base}/{created['asset_id']}/", json=body(other, "b/x.zarr"), headers=auth(key)
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["asset_id"] != created["asset_id"]
    assert (moved.json()["zarr"], moved.json()["size"]) == (str(other.id), 50)
    await session.refresh(draft)
    assert (draft.asset_count, draft.size) == (1, 50)
    folders = (await api_client.get(f"{base}/paths/")).json()["results"]
    assert [(n["path"], n["aggregate_size"]) for n in folders] == [("b", 50)]
    gone = await api_client.delete(f"{base}/{moved.json()['asset_id']}/", headers=auth(key))
    assert gone.status_code == 204
    await session.refresh(draft)
    assert (draft.asset_count, draft.size) == (0, 0)
    assert (await api_client.get(f"{base}/paths/")).json()["results"] == []


async def test_bad_zarr_references_are_refused_as_dandi_does(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, key, dandiset, _, base = await owned(session)
    archive = await archive_of(session, dandiset, size=10)
    foreign_dandiset, _ = await create_dandiset(session, owner=owner)
    foreign = await archive_of(session, foreign_dandiset, size=10)
    blob = await create_blob(session)

    async def post(payload: dict[str, Any]) -> httpx.Response:
        return await api_client.post(f"{base}/", json=payload, headers=auth(key))

    unknown = await post({"zarr_id": str(uuid.uuid4()), "metadata": {"path": PATH}})
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"detail": "No ZarrArchive matches the given query."},
    )
    snapshot_id = str((await snapshot_of(session, archive)).id)
    as_snapshot = await post({"zarr_id": snapshot_id, "metadata": {"path": PATH}})
    assert as_snapshot.status_code == 404
    other = await post(body(foreign))
    assert (other.status_code, other.json()) == (
        400,
        "The zarr archive belongs to a different dandiset",
    )
    both = await post({**body(archive), "blob_id": str(blob.id)})
    neither = await post({"metadata": {"path": PATH}})
    for refused in (both, neither):
        assert (refused.status_code, refused.json()) == (
            400,
            {"blob_id": ["Exactly one of blob_id or zarr_id must be specified."]},
        )
    bad_path = await post(body(archive, "../escape.zarr"))
    assert bad_path.status_code == 400


async def test_list_carries_zarr_and_filters_zarr_assets(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, key, dandiset, _, base = await owned(session)
    archive = await archive_of(session, dandiset, size=300)
    blob = await create_blob(session, content=b"abc")
    blob_body = {"blob_id": str(blob.id), "metadata": {"path": "a.nwb"}}
    assert (await api_client.post(f"{base}/", json=blob_body, headers=auth(key))).is_success
    assert (await api_client.post(f"{base}/", json=body(archive), headers=auth(key))).is_success
    listed = (await api_client.get(f"{base}/", params={"order": "path"})).json()
    assert [(a["path"], a["blob"] is None, a["zarr"], a["size"]) for a in listed["results"]] == [
        ("a.nwb", False, None, 3),
        (PATH, True, str(archive.id), 300),
    ]
    assert list(listed["results"][1]) == [
        "asset_id", "blob", "zarr", "path", "size", "created", "modified",
    ]  # fmt: skip
    zarrs = (await api_client.get(f"{base}/", params={"zarr": "true", "metadata": "true"})).json()
    assert zarrs["count"] == 1
    [item] = zarrs["results"]
    assert item["path"] == PATH
    assert item["metadata"]["encodingFormat"] == "application/x-zarr"


async def test_a_zarr_asset_is_not_downloaded_as_one_file(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, key, dandiset, _, base = await owned(session)
    archive = await archive_of(session, dandiset, size=300)
    created = (await api_client.post(f"{base}/", json=body(archive), headers=auth(key))).json()
    message = (
        "Unable to provide download link for zarr assets."
        " Please browse the zarr files directly to do so."
    )
    for url in (
        f"/api/assets/{created['asset_id']}/download/",
        f"{base}/{created['asset_id']}/download/",
    ):
        response = await api_client.get(url)
        assert (response.status_code, response.json()) == (400, message)
        # As on DANDI, before the query is checked.
        for disposition in ("inline", "bogus"):
            response = await api_client.get(url, params={"content_disposition": disposition})
            assert (response.status_code, response.json()) == (400, message)
    info = (await api_client.get(f"/api/assets/{created['asset_id']}/info/")).json()
    assert (info["zarr"], info["size"]) == (str(archive.id), 300)
    top = (await api_client.get(f"/api/assets/{created['asset_id']}/")).json()
    assert top["digest"] == {"dandi:dandi-zarr-checksum": archive.checksum}


async def test_an_embargoed_zarr_asset_is_read_by_its_owners_only(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, key, dandiset, _, base = await owned(session, EmbargoStatus.EMBARGOED)
    archive = await archive_of(session, dandiset, size=300)
    created = (await api_client.post(f"{base}/", json=body(archive), headers=auth(key))).json()
    assert created["metadata"]["access"] == [
        {"schemaKey": "AccessRequirements", "status": "dandi:EmbargoedAccess"}
    ]
    _, stranger = await create_user(session)
    top = f"/api/assets/{created['asset_id']}/"
    for url in (top, f"{top}info/", f"{top}download/"):
        assert (await api_client.get(url)).status_code == 401
        assert (await api_client.get(url, headers=auth(stranger))).status_code == 403
    assert (await api_client.get(f"{base}/", headers=auth(stranger))).status_code == 403
    mine = await api_client.get(top, headers=auth(key))
    assert mine.status_code == 200
    assert mine.json()["access"][0]["status"] == "dandi:EmbargoedAccess"
