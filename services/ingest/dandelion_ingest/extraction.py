"""The extract and inspect jobs: NWB facts read remotely from a blob (a few ranged GETs, never
the data), stored once per blob; the extraction's outcome is one of the facts that make a blob
ready for validation (readiness.py).

Each job commits once per step and holds no transaction across the NWB read, which runs in
a reader process over ranged S3 GETs and may take up to its timeout: a short transaction
reads what the job needs, the read runs outside any, and another short one stores the result.
"""

from __future__ import annotations

import logging
from typing import Any

from arq import Retry
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import ExtractStatus, OutboxEntity
from dandelion_common.db.models import Asset, AssetBlob, BlobExtract
from dandelion_common.jobs import enqueue_after_commit
from dandelion_common.jobs.contracts import EXTRACT_NWB, INSPECT_NWB, BlobRef
from dandelion_common.jobs.worker import Context, handler, job_session
from dandelion_common.outbox import emit
from dandelion_common.storage import S3Storage, blob_key
from dandelion_ingest.nwb.errors import RemoteReadError
from dandelion_ingest.nwb.extract import EXTRACTOR_VERSION, Extraction, NotNwbError, extract_url
from dandelion_ingest.nwb.inspect import inspect_url
from dandelion_ingest.nwb.mapping import asset_metadata
from dandelion_ingest.pool import ReaderFailed
from dandelion_ingest.readiness import settle
from dandelion_ingest.resources import ingest_resources

logger = logging.getLogger("dandelion.ingest")

EXTRACT_TIMEOUT_SECONDS = 120.0
INSPECT_TIMEOUT_SECONDS = 900.0
URL_EXPIRY_SECONDS = 3600
RETRY_SECONDS = 10
INSPECT_WAIT_SECONDS = 5


async def _blob_url(ctx: Context, session: AsyncSession, blob_id: Any) -> tuple[str, int] | None:
    """A GET URL for the blob's object and its size; None once the blob is gone."""
    blob = await session.get(AssetBlob, blob_id)
    if blob is None:
        return None
    storage: S3Storage = ingest_resources(ctx).storage
    key = blob_key(blob.id, embargoed=blob.embargoed)
    return await storage.presign_internal_get(key, expires=URL_EXPIRY_SECONDS), blob.size


def _columns(extraction: Extraction) -> dict[str, Any]:
    """The typed columns search filters on; everything else stays in `facts`."""
    return {
        "status": ExtractStatus.EXTRACTED,
        "error": "",
        "bytes_read": extraction.bytes_read,
        "nwb_version": extraction.nwb_version,
        "species": extraction.species,
        "sex": extraction.sex,
        "age_days": extraction.age_days,
        "subject_id": extraction.subject_id,
        "session_start_time": extraction.session_start_time,
        "duration_seconds": extraction.duration_seconds,
        "electrode_count": extraction.electrode_count,
        "unit_count": extraction.unit_count,
        "brain_locations": extraction.brain_locations,
        "neurodata_types": extraction.neurodata_types,
        "sampling_rates": extraction.sampling_rates,
        "facts": extraction.model_dump(mode="json"),
        "metadata": asset_metadata(extraction),
    }


def _failure(message: str) -> dict[str, Any]:
    return {"status": ExtractStatus.FAILED, "error": message, "facts": {}, "metadata": {}}


async def _store(session: AsyncSession, blob_id: Any, values: dict[str, Any]) -> None:
    row = {"blob_id": blob_id, "extractor_version": EXTRACTOR_VERSION, **values}
    statement = insert(BlobExtract).values(row)
    updates: dict[str, Any] = {k: statement.excluded[k] for k in row if k != "blob_id"}
    updates["findings"] = None  # new facts make old findings stale
    await session.execute(statement.on_conflict_do_update(index_elements=["blob_id"], set_=updates))
    # Assets already validated keep their status, but their search documents gain the facts.
    for asset_id in await session.scalars(select(Asset.id).where(Asset.blob_id == blob_id)):
        emit(session, OutboxEntity.ASSET, asset_id)


@handler(EXTRACT_NWB)
async def extract(ctx: Context, payload: BlobRef) -> str:
    """Read a blob's NWB metadata; a file that is not readable NWB is recorded as failed.
    Either outcome is stored under the blob's row lock, where readiness is decided: with the
    checksum known too, the blob is ready and its Pending assets are asked for."""
    async with job_session(ctx) as session:
        done = await session.get(BlobExtract, payload.blob_id)
        if done is not None and done.extractor_version == EXTRACTOR_VERSION:
            return done.status.value  # arq may run a job twice
        located = await _blob_url(ctx, session, payload.blob_id)
    if located is None:
        return "gone"
    try:
        extraction = await ingest_resources(ctx).extraction_readers.run(
            EXTRACT_TIMEOUT_SECONDS, extract_url, *located
        )
        values = _columns(extraction)
    except (NotNwbError, ReaderFailed) as exc:
        values = _failure(str(exc))
    except RemoteReadError as exc:
        raise Retry(defer=RETRY_SECONDS) from exc  # S3 hiccup: the bytes may be fine
    async with job_session(ctx) as session:
        blob = await session.get(AssetBlob, payload.blob_id, with_for_update=True)
        if blob is None:
            return "gone"
        await _store(session, blob.id, values)
        await settle(session, blob)
        if values["status"] is ExtractStatus.EXTRACTED:
            enqueue_after_commit(session, INSPECT_NWB, payload)
    logger.info("extracted", extra={"blob_id": str(payload.blob_id), "status": values["status"]})
    return str(values["status"].value)


@handler(INSPECT_NWB)
async def inspect(ctx: Context, payload: BlobRef) -> str:
    """pynwb validation and nwbinspector (DANDI's configuration): advisory findings. They do
    not change an asset's status, so readiness does not wait for them."""
    async with job_session(ctx) as session:
        row = await session.get(BlobExtract, payload.blob_id)
        if row is None or row.status is not ExtractStatus.EXTRACTED:
            return "nothing to inspect"
        if row.findings is not None:
            return "done"
        located = await _blob_url(ctx, session, payload.blob_id)
    pool = ingest_resources(ctx).inspection_readers
    if pool.busy:
        # Come back later rather than hold one of the worker's job slots while waiting.
        raise Retry(defer=INSPECT_WAIT_SECONDS)
    if located is None:
        return "gone"
    try:
        found = await pool.run(INSPECT_TIMEOUT_SECONDS, inspect_url, *located)
        findings = [dict(finding) for finding in found]
    except ReaderFailed as exc:
        findings = [_reader_finding(str(exc))]
    async with job_session(ctx) as session:
        row = await session.get(BlobExtract, payload.blob_id, with_for_update=True)
        if row is None:
            return "gone"
        row.findings = findings
    return f"{len(findings)} findings"


def _reader_finding(message: str) -> dict[str, Any]:
    return {
        "id": "dandelion.READER", "severity": "ERROR", "message": message, "location": "",
        "validator": "dandelion", "validator_version": EXTRACTOR_VERSION,
    }  # fmt: skip
