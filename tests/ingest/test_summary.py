"""The draft's assetsSummary: dandischema's aggregation over Valid assets, stored without
making a new revision, asked for by a debounced job."""

from __future__ import annotations

import time
from typing import Any

import pytest
from arq.constants import job_key_prefix
from arq.jobs import Job, JobStatus
from factories import create_asset, create_dandiset, create_user, outbox_rows
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import AssetStatus, OutboxEntity
from dandelion_common.db.session import Database
from dandelion_common.jobs.contracts import SUMMARIZE_VERSION, VersionRef
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.jobs.resources import WorkerResources, job_context
from dandelion_common.schema import SCHEMA_VERSION
from dandelion_common.settings import Settings
from dandelion_ingest.summary import summarize_version

MOUSE = {
    "schemaKey": "SpeciesType",
    "identifier": "http://purl.obolibrary.org/obo/NCBITaxon_10090",
    "name": "Mus musculus - House mouse",
}
EPHYS = {"schemaKey": "ApproachType", "name": "electrophysiological approach"}


@pytest.fixture
def ctx(settings: Settings, db: Database, job_queue: JobQueue) -> dict[str, Any]:
    return job_context(WorkerResources(settings=settings, db=db, queue=job_queue))


def nwb_metadata(subject: str) -> dict[str, Any]:
    return {
        "schemaKey": "Asset",
        "schemaVersion": SCHEMA_VERSION,
        "encodingFormat": "application/x-nwb",
        "approach": [EPHYS],
        "variableMeasured": [{"schemaKey": "PropertyValue", "value": "ElectricalSeries"}],
        "wasAttributedTo": [{"schemaKey": "Participant", "identifier": subject, "species": MOUSE}],
    }


async def test_summary_counts_valid_assets_only_and_keeps_the_revision(
    ctx: dict[str, Any], session: AsyncSession
) -> None:
    owner, _ = await create_user(session)
    _, draft = await create_dandiset(session, owner=owner)
    statuses = [AssetStatus.VALID, AssetStatus.VALID, AssetStatus.INVALID, AssetStatus.PENDING]
    for n, status in enumerate(statuses):
        asset = await create_asset(session, version=draft, path=f"sub-m{n}/sub-m{n}_ecephys.nwb")
        asset.metadata_ = {**nwb_metadata(f"m{n}"), "path": asset.path}
        asset.status = status
    await session.flush()
    await session.refresh(draft)
    revision = draft.modified

    result = await summarize_version.coroutine(ctx, version_id=draft.id)
    assert result == "2 files"
    await session.refresh(draft)
    summary = draft.metadata_["assetsSummary"]
    assert summary["numberOfFiles"] == 2
    assert summary["numberOfSubjects"] == 2
    assert summary["species"] == [MOUSE]
    assert summary["approach"] == [EPHYS]
    assert summary["variableMeasured"] == ["ElectricalSeries"]
    assert summary["dataStandard"][0]["name"].startswith("Neurodata Without Borders")
    assert summary["numberOfBytes"] == sum(
        len(f"sub-m{n}/sub-m{n}_ecephys.nwb".encode()) for n in range(2)
    )
    assert draft.modified == revision
    assert await outbox_rows(session, OutboxEntity.VERSION, draft.id) == 1  # search sees it
    assert draft.metadata_["description"] == "For tests."  # the rest of the document is kept


async def test_a_burst_of_requests_makes_one_deferred_job(job_queue: JobQueue) -> None:
    payload = VersionRef(version_id=987_654_321)
    first = await job_queue.enqueue(SUMMARIZE_VERSION, payload)
    second = await job_queue.enqueue(SUMMARIZE_VERSION, payload)
    if first is None:  # the window closed between two calls of a test: one more try
        first = await job_queue.enqueue(SUMMARIZE_VERSION, payload)
        second = await job_queue.enqueue(SUMMARIZE_VERSION, payload)
    assert first is not None
    assert second is None
    assert await first.status() == JobStatus.deferred
    info = await Job(first.job_id, job_queue.redis, _queue_name=first._queue_name).info()
    assert info is not None
    assert info.score is not None
    assert info.score / 1000 > time.time()  # runs when the window closes
    # Nothing will run it here: take it off the shared queue.
    await job_queue.redis.zrem(SUMMARIZE_VERSION.queue_name, first.job_id)
    await job_queue.redis.delete(job_key_prefix + first.job_id)
