"""validate_version: a draft becomes Valid or Invalid once per revision, and never acts on a
stale or non-pending version (jobs may run twice)."""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import Any

import httpx
import pytest
from arq.jobs import Job, JobStatus
from conftest import auth, ingest_context
from factories import create_blob, create_dandiset, create_extract, create_user
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import AssetStatus, VersionStatus
from dandelion_common.db.models import Asset, AssetBlob, Version, VersionAsset
from dandelion_common.db.session import Database
from dandelion_common.jobs.contracts import (
    VALIDATE_ASSET,
    VALIDATE_VERSION,
    AssetRef,
    VersionRevision,
)
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.settings import Settings
from dandelion_common.storage import S3Storage, blob_key, ranges
from dandelion_ingest import checksum
from dandelion_ingest.tasks import validate_asset, validate_version

PUBLISHABLE = {
    "description": "Extracellular recordings in mouse V1.",
    "license": ["spdx:CC-BY-4.0"],
    "contributor": [
        {
            "schemaKey": "Person", "name": "Doe, Jane", "email": "jane@example.org",
            "roleName": ["dcite:ContactPerson"], "includeInCitation": True, "affiliation": [],
        }
    ],
}  # fmt: skip


@pytest.fixture
def ctx(
    settings: Settings, db: Database, job_queue: JobQueue, storage: S3Storage
) -> dict[str, Any]:
    return ingest_context(settings, db, job_queue, storage)


async def create(client: httpx.AsyncClient, key: str, metadata: dict[str, Any]) -> int:
    response = await client.post(
        "/api/dandisets/", json={"name": "V1 recordings", "metadata": metadata}, headers=auth(key)
    )
    assert response.status_code == 200, response.text
    return int(response.json()["identifier"])


async def draft_of(session: AsyncSession, dandiset_id: int) -> Version:
    version = await session.scalar(select(Version).where(Version.dandiset_id == dandiset_id))
    assert version is not None
    await session.refresh(version)
    return version


def revision(version: Version) -> VersionRevision:
    return VersionRevision(version_id=version.id, revision=version.modified.isoformat())


async def test_publishable_draft_becomes_valid(
    ctx: dict[str, Any], api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, key = await create_user(session)
    draft = await draft_of(session, await create(api_client, key, PUBLISHABLE))
    assert await validate_version.coroutine(ctx, **revision(draft).model_dump()) == "Valid"
    await session.refresh(draft)
    assert (draft.status, draft.validation_errors) == (VersionStatus.VALID, [])
    info = await api_client.get(f"/api/dandisets/{draft.dandiset_id:06}/versions/draft/info/")
    assert (info.json()["status"], info.json()["version_validation_errors"]) == ("Valid", [])


async def test_missing_license_makes_it_invalid_with_the_field(
    ctx: dict[str, Any], api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, key = await create_user(session)
    metadata = {k: v for k, v in PUBLISHABLE.items() if k != "license"}
    draft = await draft_of(session, await create(api_client, key, metadata))
    assert await validate_version.coroutine(ctx, **revision(draft).model_dump()) == "Invalid"
    await session.refresh(draft)
    assert any("license" in e["message"] for e in draft.validation_errors)


async def test_stale_revision_and_second_run_change_nothing(
    ctx: dict[str, Any], api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, key = await create_user(session)
    draft = await draft_of(session, await create(api_client, key, PUBLISHABLE))
    stale = VersionRevision(version_id=draft.id, revision="2000-01-01T00:00:00+00:00")
    assert await validate_version.coroutine(ctx, **stale.model_dump()) == "superseded"
    await session.refresh(draft)
    assert draft.status is VersionStatus.PENDING
    current = revision(draft).model_dump()
    assert await validate_version.coroutine(ctx, **current) == "Valid"
    assert await validate_version.coroutine(ctx, **current) in ("superseded", "not pending")


async def test_every_draft_change_asks_for_validation_after_commit(
    api_client: httpx.AsyncClient, session: AsyncSession, job_queue: JobQueue
) -> None:
    _, key = await create_user(session)
    dandiset_id = await create(api_client, key, PUBLISHABLE)
    draft = await draft_of(session, dandiset_id)
    job_id = VALIDATE_VERSION.job_id(revision(draft))
    assert job_id is not None
    job = Job(job_id, job_queue.redis, _queue_name=VALIDATE_VERSION.queue_name)
    assert await job.status() == JobStatus.queued


async def add_asset(
    client: httpx.AsyncClient,
    session: AsyncSession,
    metadata: dict[str, Any],
    *,
    checksum: bool,
    extracted: dict[str, Any] | None = None,
) -> Asset:
    """An asset added through the API; its blob's extraction done (with `extracted` as the
    dandischema fragment) unless `extracted` is None."""
    owner, key = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    blob = await create_blob(session, content=b"nwb" + metadata["path"].encode())
    if not checksum:
        blob.sha256 = None
        await session.flush()
    if extracted is not None:
        await create_extract(session, blob, metadata=extracted)
    url = f"/api/dandisets/{dandiset.id:06}/versions/draft/assets/"
    response = await client.post(
        url, json={"blob_id": str(blob.id), "metadata": metadata}, headers=auth(key)
    )
    assert response.status_code == 200, response.text
    asset = await session.get(Asset, uuid.UUID(response.json()["asset_id"]))
    assert asset is not None
    return asset


def asset_payload(asset: Asset) -> dict[str, Any]:
    return dict(AssetRef(asset_id=asset.id).model_dump(mode="json"))


async def validation_queued(job_queue: JobQueue, asset: Asset) -> bool:
    job_id = VALIDATE_ASSET.job_id(AssetRef(asset_id=asset.id))
    assert job_id is not None
    job = Job(job_id, job_queue.redis, _queue_name=VALIDATE_ASSET.queue_name)
    return await job.status() == JobStatus.queued


async def test_asset_with_checksum_and_format_becomes_valid(
    ctx: dict[str, Any], api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    asset = await add_asset(
        api_client,
        session,
        {"path": "a.nwb", "encodingFormat": "application/x-nwb"},
        checksum=True,
        extracted={},
    )
    assert await validate_asset.coroutine(ctx, **asset_payload(asset)) == "Valid"
    await session.refresh(asset)
    assert (asset.status, asset.validation_errors) == (AssetStatus.VALID, [])
    assert await validate_asset.coroutine(ctx, **asset_payload(asset)) == "not pending"


async def test_asset_without_format_is_invalid_with_dandis_message(
    ctx: dict[str, Any], api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    asset = await add_asset(api_client, session, {"path": "b.nwb"}, checksum=True, extracted={})
    assert await validate_asset.coroutine(ctx, **asset_payload(asset)) == "Invalid"
    validation = await api_client.get(f"/api/assets/{asset.id}/info/")
    assert validation.status_code == 200
    await session.refresh(asset)
    assert any("encodingFormat" in e["message"] for e in asset.validation_errors)


async def test_asset_waits_for_its_checksum(
    ctx: dict[str, Any], api_client: httpx.AsyncClient, session: AsyncSession, job_queue: JobQueue
) -> None:
    asset = await add_asset(
        api_client, session, {"path": "c.nwb", "encodingFormat": "x"}, checksum=False
    )
    # Its blob is not ready: the checksum job asks once it is, so the API asks for nothing.
    assert not await validation_queued(job_queue, asset)
    # A stray request (an old payload, a resend) changes nothing.
    assert await validate_asset.coroutine(ctx, **asset_payload(asset)) == "blob not ready"
    await session.refresh(asset)
    assert asset.status is AssetStatus.PENDING


async def test_sha256_streams_the_object_and_releases_waiting_assets(
    ctx: dict[str, Any],
    api_client: httpx.AsyncClient,
    session: AsyncSession,
    storage: S3Storage,
    job_queue: JobQueue,
) -> None:
    asset = await add_asset(
        api_client, session, {"path": "d.nwb", "encodingFormat": "x"}, checksum=False
    )
    blob = await session.get(AssetBlob, asset.blob_id)
    assert blob is not None
    await create_extract(session, blob)  # extracted first: the checksum makes the blob ready
    content = os.urandom(3 * ranges.CHUNK_BYTES // 2 + 7)  # several ranged reads, a ragged end
    blob.size = len(content)
    await session.flush()
    await storage.put(blob_key(blob.id), content)
    expected = hashlib.sha256(content).hexdigest()
    assert await checksum.sha256.coroutine(ctx, blob_id=str(blob.id)) == expected
    await session.refresh(blob)
    assert blob.sha256 == expected
    assert blob.ready_at is not None
    assert await validation_queued(job_queue, asset)
    assert await checksum.sha256.coroutine(ctx, blob_id=str(blob.id)) == expected  # idempotent


PARTICIPANT = {
    "schemaKey": "Participant",
    "identifier": "mouse01",
    "species": {
        "schemaKey": "SpeciesType",
        "identifier": "http://purl.obolibrary.org/obo/NCBITaxon_10090",
        "name": "Mus musculus - House mouse",
    },
}
SESSION = {"schemaKey": "Session", "identifier": "ses1", "name": "Acquisition session"}


async def test_nwb_asset_waits_for_extraction_then_gets_its_facts(
    ctx: dict[str, Any], api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    client_metadata = {
        "path": "sub-mouse01/a.nwb",
        "encodingFormat": "application/x-nwb",
        "keywords": ["mine"],
    }
    asset = await add_asset(api_client, session, client_metadata, checksum=True)
    payload = asset_payload(asset)
    assert await validate_asset.coroutine(ctx, **payload) == "blob not ready"
    assert asset.blob_id is not None
    blob = await session.get(AssetBlob, asset.blob_id)
    assert blob is not None
    extracted = {
        "keywords": ["theirs"],
        "wasAttributedTo": [PARTICIPANT],
        "wasGeneratedBy": [SESSION],
        "approach": [{"schemaKey": "ApproachType", "name": "electrophysiological approach"}],
    }
    await create_extract(session, blob, metadata=extracted)
    assert await validate_asset.coroutine(ctx, **payload) == "Valid"
    await session.refresh(asset)
    assert asset.metadata_["keywords"] == ["mine"]  # the client's value wins
    assert asset.metadata_["wasAttributedTo"] == [PARTICIPANT]  # gaps are filled
    assert asset.metadata_["wasGeneratedBy"] == [SESSION]
    assert asset.metadata_["approach"] == extracted["approach"]


async def test_unreadable_nwb_is_invalid_with_a_readable_message(
    ctx: dict[str, Any], api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    metadata = {"path": "broken.nwb", "encodingFormat": "application/x-nwb"}
    asset = await add_asset(api_client, session, metadata, checksum=True)
    assert asset.blob_id is not None
    blob = await session.get(AssetBlob, asset.blob_id)
    assert blob is not None
    await create_extract(session, blob, error="not an HDF5 file")
    assert await validate_asset.coroutine(ctx, **asset_payload(asset)) == "Invalid"
    response = await api_client.get(
        f"/api/dandisets/{(await dandiset_of(session, asset)):06}/versions/draft/assets/"
        f"{asset.id}/validation/"
    )
    assert response.status_code == 200
    assert response.json()["validation_errors"] == [
        {"field": "", "message": "broken.nwb is not a readable NWB file: not an HDF5 file"}
    ]


async def test_files_that_are_not_nwb_do_not_mind_a_failed_extraction(
    ctx: dict[str, Any], api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # Every blob's extraction is tried (readiness waits for its outcome); a text file's fails.
    metadata = {"path": "README.txt", "encodingFormat": "text/plain"}
    asset = await add_asset(api_client, session, metadata, checksum=True)
    assert asset.blob_id is not None
    await create_extract(session, await session.get_one(AssetBlob, asset.blob_id), error="no")
    assert await validate_asset.coroutine(ctx, **asset_payload(asset)) == "Valid"


async def test_validation_shows_advisory_findings_without_changing_status(
    ctx: dict[str, Any], api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    metadata = {"path": "sub-x/x.nwb", "encodingFormat": "application/x-nwb"}
    asset = await add_asset(api_client, session, metadata, checksum=True)
    assert asset.blob_id is not None
    blob = await session.get(AssetBlob, asset.blob_id)
    assert blob is not None
    finding = {
        "id": "NWBI.check_subject_age", "severity": "ERROR", "message": "age is not ISO 8601",
        "location": "/general/subject", "validator": "nwbinspector", "validator_version": "0.7.2",
    }  # fmt: skip
    await create_extract(session, blob, findings=[finding])
    url = (
        f"/api/dandisets/{(await dandiset_of(session, asset)):06}/versions/draft/assets/"
        f"{asset.id}/validation/"
    )
    pending = (await api_client.get(url)).json()
    assert pending["status"] == "Pending"
    assert await validate_asset.coroutine(ctx, **asset_payload(asset)) == "Valid"
    body = (await api_client.get(url)).json()
    assert (body["status"], body["validation_errors"]) == ("Valid", [])
    assert body["advisory_findings"] == [finding]


async def dandiset_of(session: AsyncSession, asset: Asset) -> int:
    dandiset_id = await session.scalar(
        select(Version.dandiset_id)
        .join(VersionAsset, VersionAsset.version_id == Version.id)
        .where(VersionAsset.asset_id == asset.id)
    )
    assert dandiset_id is not None
    return dandiset_id
