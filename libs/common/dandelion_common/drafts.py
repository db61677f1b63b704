"""A draft's bookkeeping after its assets change, shared by the API (asset writes) and the
ingest worker (a zarr archive's new snapshot)."""

from __future__ import annotations

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import OutboxEntity, VersionStatus
from dandelion_common.db.models import Version
from dandelion_common.jobs import enqueue_after_commit
from dandelion_common.jobs.contracts import (
    SUMMARIZE_VERSION,
    VALIDATE_VERSION,
    VersionRef,
    VersionRevision,
)
from dandelion_common.outbox import emit


async def assets_changed(session: AsyncSession, draft_id: int, *, files: int, size: int) -> None:
    """Counters, revision and status in one UPDATE, so concurrent changes never lose an
    increment; then search, validation and the summary hear of it (after the commit)."""
    modified = await session.scalar(
        update(Version)
        .where(Version.id == draft_id)
        .values(
            asset_count=Version.asset_count + files,
            size=Version.size + size,
            assets_revision=Version.assets_revision + 1,
            status=VersionStatus.PENDING,
            modified=func.now(),
        )
        .returning(Version.modified)
    )
    emit(session, OutboxEntity.VERSION, draft_id)
    if modified is not None:
        revision = VersionRevision(version_id=draft_id, revision=modified.isoformat())
        enqueue_after_commit(session, VALIDATE_VERSION, revision)
        enqueue_after_commit(session, SUMMARIZE_VERSION, VersionRef(version_id=draft_id))
