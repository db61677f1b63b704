"""A blob is ready once its checksum and its extraction's outcome are known, and each asset
is asked for validation exactly once: when it is created on a ready blob, or when its blob
becomes ready, whichever job finishes last. Every request sent to Redis is counted."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from conftest import auth
from factories import create_blob, create_dandiset, create_extract, create_user
from nwbfiles import write_nwb
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import AssetStatus
from dandelion_common.db.models import Asset, AssetBlob
from dandelion_common.db.session import Database
from dandelion_common.jobs.contracts import VALIDATE_ASSET, JobContract, Payload
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.jobs.resources import job_context
from dandelion_common.settings import Settings
from dandelion_common.storage import S3Storage, blob_key
from dandelion_ingest import checksum, extraction
from dandelion_ingest.pool import ReaderPool
from dandelion_ingest.resources import IngestResources
from dandelion_ingest.tasks import validate_asset

Ctx = dict[str, Any]
Sent = list[tuple[str, dict[str, Any]]]
NWB = {"path": "sub-m1/sub-m1_ecephys.nwb", "encodingFormat": "application/x-nwb"}
TEXT = {"path": "sub-m1/notes.txt", "encodingFormat": "text/plain"}


@pytest.fixture(scope="module")
def extract_readers() -> Iterator[ReaderPool]:
    """One reader process for the module's extractions: starting one takes seconds."""
    pool = ReaderPool()
    yield pool
    pool.close()


@pytest.fixture
def ctx(
    settings: Settings,
    db: Database,
    job_queue: JobQueue,
    storage: S3Storage,
    extract_readers: ReaderPool,
) -> Ctx:
    resources = IngestResources(
        settings=settings,
        db=db,
        queue=job_queue,
        storage=storage,
        extraction_readers=extract_readers,
    )
    return job_context(resources)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    """Every job sent to Redis (by the API or a job), refused duplicates included."""
    calls: Sent = []
    original = JobQueue.enqueue

    async def spy(
        self: JobQueue, contract: JobContract[Any], payload: Payload, **options: Any
    ) -> Any:
        calls.append((contract.name, payload.model_dump(mode="json")))
        return await original(self, contract, payload, **options)

    monkeypatch.setattr(JobQueue, "enqueue", spy)
    return calls


def validations(sent: Sent, asset: Asset) -> list[dict[str, Any]]:
    return [p for name, p in sent if name == VALIDATE_ASSET.name and p["asset_id"] == str(asset.id)]


@pytest.fixture(scope="module")
def nwb_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_nwb(tmp_path_factory.mktemp("nwb") / "a.nwb", subject_id="m1").read_bytes()


async def uploaded_blob(
    session: AsyncSession, storage: S3Storage, content: bytes, *, checksummed: bool = False
) -> AssetBlob:
    """A blob as `/uploads/{id}/validate/` leaves it: in S3, checksum and extraction to come."""
    blob = await create_blob(session, content=uuid.uuid4().bytes)  # an etag of its own
    blob.size = len(content)
    if not checksummed:
        blob.sha256 = None
    await session.flush()
    await storage.put(blob_key(blob.id), content)
    return blob


@dataclass(frozen=True)
class Draft:
    assets_url: str
    key: str  # its owner's API key


async def new_draft(session: AsyncSession) -> Draft:
    owner, key = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    return Draft(f"/api/dandisets/{dandiset.id:06}/versions/draft/assets/", key)


async def post_asset(
    client: httpx.AsyncClient,
    session: AsyncSession,
    blob: AssetBlob,
    metadata: dict[str, Any],
    draft: Draft | None = None,
) -> Asset:
    draft = draft or await new_draft(session)
    body = {"blob_id": str(blob.id), "metadata": metadata}
    response = await client.post(draft.assets_url, json=body, headers=auth(draft.key))
    assert response.status_code == 200, response.text
    return await session.get_one(Asset, uuid.UUID(response.json()["asset_id"]))


async def run_sha256(ctx: Ctx, blob: AssetBlob) -> Any:
    return await checksum.sha256.coroutine(ctx, blob_id=str(blob.id))


async def run_extract(ctx: Ctx, blob: AssetBlob) -> Any:
    return await extraction.extract.coroutine(ctx, blob_id=str(blob.id))


Job = Callable[[Ctx, AssetBlob], Any]
ORDERS = pytest.mark.parametrize(
    "jobs",
    [(run_sha256, run_extract), (run_extract, run_sha256)],
    ids=["checksum-last-but-one", "extraction-last-but-one"],
)


async def validated(ctx: Ctx, session: AsyncSession, asset: Asset) -> AssetStatus:
    assert await validate_asset.coroutine(ctx, asset_id=str(asset.id)) in ("Valid", "Invalid")
    await session.refresh(asset)
    return asset.status


@ORDERS
@pytest.mark.parametrize("metadata", [NWB, TEXT], ids=["nwb", "text"])
async def test_an_upload_is_asked_for_validation_once_whichever_job_finishes_last(
    ctx: Ctx,
    api_client: httpx.AsyncClient,
    session: AsyncSession,
    storage: S3Storage,
    sent: Sent,
    nwb_bytes: bytes,
    jobs: tuple[Job, Job],
    metadata: dict[str, Any],
) -> None:
    content = nwb_bytes if metadata is NWB else b"a text file, not HDF5\n" * 50
    blob = await uploaded_blob(session, storage, content)
    asset = await post_asset(api_client, session, blob, metadata)
    assert validations(sent, asset) == []  # its blob is not ready

    first, last = jobs
    await first(ctx, blob)
    await session.refresh(blob)
    assert (blob.ready_at, validations(sent, asset)) == (None, [])
    await last(ctx, blob)
    await session.refresh(blob)
    assert blob.ready_at is not None
    assert validations(sent, asset) == [{"asset_id": str(asset.id)}]

    assert await validated(ctx, session, asset) is AssetStatus.VALID, asset.validation_errors
    # Each job run again does nothing: no second request, the asset as it was.
    await first(ctx, blob)
    await last(ctx, blob)
    assert len(validations(sent, asset)) == 1
    assert await validate_asset.coroutine(ctx, asset_id=str(asset.id)) == "not pending"


async def test_an_asset_created_on_a_ready_blob_is_asked_for_once_by_the_api(
    ctx: Ctx,
    api_client: httpx.AsyncClient,
    session: AsyncSession,
    storage: S3Storage,
    sent: Sent,
    nwb_bytes: bytes,
) -> None:
    blob = await uploaded_blob(session, storage, nwb_bytes, checksummed=True)
    await create_extract(session, blob)
    assert blob.ready_at is not None
    asset = await post_asset(api_client, session, blob, NWB)
    assert validations(sent, asset) == [{"asset_id": str(asset.id)}]
    assert await validated(ctx, session, asset) is AssetStatus.VALID
    # The blob's jobs again (the factory's extraction is of another extractor version, so
    # it is redone): the blob was ready already, nobody asks again.
    await run_sha256(ctx, blob)
    assert await run_extract(ctx, blob) == "extracted"
    assert len(validations(sent, asset)) == 1


async def test_a_replaced_asset_on_a_ready_blob_is_asked_for_once(
    api_client: httpx.AsyncClient, session: AsyncSession, storage: S3Storage, sent: Sent
) -> None:
    blob = await uploaded_blob(session, storage, b"notes\n", checksummed=True)
    await create_extract(session, blob, error="not an HDF5 file")
    draft = await new_draft(session)
    old = await post_asset(api_client, session, blob, TEXT, draft)
    body = {"blob_id": str(blob.id), "metadata": {**TEXT, "description": "edited"}}
    url = f"{draft.assets_url}{old.id}/"
    replaced = await api_client.put(url, json=body, headers=auth(draft.key))
    assert replaced.status_code == 200, replaced.text
    new = await session.get_one(Asset, uuid.UUID(replaced.json()["asset_id"]))
    assert new.id != old.id
    assert validations(sent, new) == [{"asset_id": str(new.id)}]
    assert len(validations(sent, old)) == 1


async def test_a_payload_queued_before_the_change_still_runs(
    ctx: Ctx, api_client: httpx.AsyncClient, session: AsyncSession, storage: S3Storage
) -> None:
    blob = await uploaded_blob(session, storage, b"notes\n", checksummed=True)
    await create_extract(session, blob, error="not an HDF5 file")
    asset = await post_asset(api_client, session, blob, TEXT)
    old = {"asset_id": str(asset.id), "sha256": blob.sha256, "extracted": True}
    assert await validate_asset.coroutine(ctx, **old) == "Valid"
