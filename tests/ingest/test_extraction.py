"""The extract and inspect jobs on real NWB files in the real S3: facts stored per blob, merged
into the waiting asset's metadata, and broken files made Invalid with a readable message."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from arq import Retry
from factories import create_asset, create_dandiset, create_user, dandi_etag, outbox_rows
from nwbfiles import write_nwb
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import AssetStatus, ExtractStatus, OutboxEntity
from dandelion_common.db.models import Asset, AssetBlob, BlobExtract
from dandelion_common.db.session import Database
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.jobs.resources import job_context
from dandelion_common.schema import SCHEMA_VERSION
from dandelion_common.settings import Settings
from dandelion_common.storage import S3Storage, blob_key
from dandelion_ingest.extraction import (
    extract,
    inspect,
)
from dandelion_ingest.resources import IngestResources, ingest_resources
from dandelion_ingest.tasks import validate_asset


@pytest.fixture
async def ctx(
    settings: Settings, db: Database, job_queue: JobQueue, storage: S3Storage
) -> AsyncIterator[dict[str, Any]]:
    resources = IngestResources(settings=settings, db=db, queue=job_queue, storage=storage)
    yield job_context(resources)
    resources.extraction_readers.close()
    resources.inspection_readers.close()


async def pending_asset(
    session: AsyncSession, storage: S3Storage, content: bytes, path: str
) -> tuple[Asset, AssetBlob]:
    """An uploaded blob (in S3, checksummed) and a Pending draft asset on it."""
    owner, _ = await create_user(session)
    _, draft = await create_dandiset(session, owner=owner)
    blob = AssetBlob(id=uuid.uuid4(), etag=dandi_etag(content), size=len(content), sha256="0" * 64)
    session.add(blob)
    await session.flush()
    await storage.put(blob_key(blob.id), content)
    asset = await create_asset(session, version=draft, path=path, blob=blob)
    asset.metadata_ = {
        "path": path, "encodingFormat": "application/x-nwb", "schemaVersion": SCHEMA_VERSION,
    }  # fmt: skip
    await session.flush()
    return asset, blob


async def test_extract_stores_facts_and_the_asset_gets_them(
    ctx: dict[str, Any], session: AsyncSession, storage: S3Storage, tmp_path: Path
) -> None:
    source = write_nwb(
        tmp_path / "a.nwb", subject_id="mouse7", ecephys=True, ophys=True, locations=("CA1",)
    )
    asset, blob = await pending_asset(
        session, storage, source.read_bytes(), "sub-mouse7/sub-mouse7_ecephys.nwb"
    )
    assert await extract.coroutine(ctx, blob_id=str(blob.id)) == "extracted"
    row = await session.get(BlobExtract, blob.id)
    assert row is not None
    assert (row.status, row.species, row.subject_id) == (
        ExtractStatus.EXTRACTED, "Mus musculus", "mouse7",
    )  # fmt: skip
    assert row.electrode_count == 8
    assert "CA1" in row.brain_locations
    assert {"ElectricalSeries", "TwoPhotonSeries"} <= set(row.neurodata_types)
    assert 0 < row.bytes_read <= 2 * 1024 * 1024
    assert await extract.coroutine(ctx, blob_id=str(blob.id)) == "extracted"  # idempotent
    assert await outbox_rows(session, OutboxEntity.ASSET, asset.id) == 1  # facts searchable

    await validate_asset.coroutine(ctx, asset_id=str(asset.id))
    await session.refresh(asset)
    assert asset.validation_errors == []
    assert asset.status is AssetStatus.VALID
    participant = asset.metadata_["wasAttributedTo"][0]
    assert participant["identifier"] == "mouse7"
    assert participant["species"]["name"].startswith("Mus musculus")
    approaches = {a["name"] for a in asset.metadata_["approach"]}
    assert "electrophysiological approach" in approaches

    inspected = await inspect.coroutine(ctx, blob_id=str(blob.id))
    assert inspected.endswith("findings")
    await session.refresh(row)
    assert row.findings is not None
    assert not [f for f in row.findings if f["severity"] == "ERROR"], row.findings


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"this is not HDF5 at all" * 100, "HDF5"), (None, "truncated")],
)
async def test_broken_nwb_makes_the_asset_invalid_with_a_reason(
    ctx: dict[str, Any],
    session: AsyncSession,
    storage: S3Storage,
    tmp_path: Path,
    content: bytes | None,
    reason: str,
) -> None:
    if content is None:
        whole = write_nwb(tmp_path / "t.nwb", subject_id="m1").read_bytes()
        content = whole[: len(whole) // 2]
    asset, blob = await pending_asset(session, storage, content, "sub-m1/broken.nwb")
    assert await extract.coroutine(ctx, blob_id=str(blob.id)) == "failed"
    row = await session.get(BlobExtract, blob.id)
    assert row is not None
    assert reason.lower() in row.error.lower(), row.error
    assert await inspect.coroutine(ctx, blob_id=str(blob.id)) == "nothing to inspect"
    result = await validate_asset.coroutine(ctx, asset_id=str(asset.id))
    assert result == "Invalid"
    await session.refresh(asset)
    assert asset.status is AssetStatus.INVALID
    [error] = asset.validation_errors
    assert error["message"].startswith("sub-m1/broken.nwb is not a readable NWB file: ")


async def test_inspection_waits_its_turn_without_holding_a_job_slot(
    ctx: dict[str, Any], session: AsyncSession, storage: S3Storage
) -> None:
    _, blob = await pending_asset(session, storage, b"x", "sub-m2/x.nwb")
    session.add(BlobExtract(blob_id=blob.id, status=ExtractStatus.EXTRACTED, extractor_version="t"))
    await session.flush()
    ingest_resources(ctx).inspection_readers.in_flight = 1  # another inspection is running
    with pytest.raises(Retry):
        await inspect.coroutine(ctx, blob_id=str(blob.id))


async def test_every_job_of_a_worker_shares_its_reader_pools(
    ctx: dict[str, Any],
) -> None:
    # Made with the worker's resources at its start; arq's per-job copies of the context
    # share them (tests/common/jobs/test_worker.py runs a real worker for this).
    first, second = ({**ctx, "job_id": job} for job in ("a", "b"))
    for pools in ("extraction_readers", "inspection_readers"):
        assert getattr(ingest_resources(first), pools) is getattr(ingest_resources(second), pools)
    assert ingest_resources(ctx).extraction_readers is not ingest_resources(ctx).inspection_readers
