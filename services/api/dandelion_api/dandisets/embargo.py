"""Starting an unembargo: DANDI's checks, then UNEMBARGOING and the ingest worker's job.

The job (`dandelion_ingest.embargo`) moves the blobs and opens the dandiset; until it has,
UNEMBARGOING refuses writes (metadata, assets, uploads, owners) and reads stay owners' only.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_api.dandisets.access import owned_dandiset
from dandelion_common.db.enums import EmbargoStatus, OutboxEntity
from dandelion_common.db.models import Upload, User
from dandelion_common.errors import BadRequest
from dandelion_common.jobs import enqueue_after_commit
from dandelion_common.jobs.contracts import UNEMBARGO, UnembargoRequest
from dandelion_common.outbox import emit

NOT_EMBARGOED = "Dandiset not embargoed"
ACTIVE_UPLOADS = "Dandiset unembargo not allowed with active uploads"


async def unembargo(session: AsyncSession, user: User, dandiset_id: int) -> None:
    """Mark the dandiset UNEMBARGOING and ask for the unembargo job (after commit).

    As DANDI: not an owner 403 (before anything else), not EMBARGOED 400 (UNEMBARGOING
    included, so a second call never starts a second job), unfinished uploads 400: an upload
    started now would finish under the embargoed prefix after the blobs have moved.
    """
    # FOR UPDATE: of two calls at once, the second sees UNEMBARGOING. An upload inserted but
    # not yet committed holds a key-share lock on this row, so it is waited for and seen below.
    dandiset = await owned_dandiset(session, dandiset_id, user, lock=True)
    if dandiset.embargo_status is not EmbargoStatus.EMBARGOED:
        raise BadRequest(NOT_EMBARGOED)
    if await session.scalar(select(exists().where(Upload.dandiset_id == dandiset_id))):
        raise BadRequest(ACTIVE_UPLOADS)
    dandiset.embargo_status = EmbargoStatus.UNEMBARGOING
    dandiset.unembargo_requested_by, dandiset.unembargo_requested_at = user.id, datetime.now(UTC)
    emit(session, OutboxEntity.DANDISET, dandiset_id)  # search shows the embargo status
    enqueue_after_commit(
        session, UNEMBARGO, UnembargoRequest(dandiset_id=dandiset_id, user_id=user.id)
    )
