"""Asking for DOIs: the api and the publish job record what DataCite should hold, and the doi
worker makes it so (see `dandelion_doi`). The DOI strings follow DANDI's design:
`{prefix}/{instance}.{dandiset}` for a dandiset's concept DOI and `.../{version}` for a
published version's.
"""

from __future__ import annotations

from sqlalchemy import case, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import DoiState, DoiTarget
from dandelion_common.db.models import Doi
from dandelion_common.jobs import enqueue_after_commit
from dandelion_common.jobs.contracts import SYNC_DOI, DoiRef
from dandelion_common.settings import Settings


def concept_doi(settings: Settings, dandiset_id: int) -> str:
    return f"{settings.doi.prefix}/{settings.instance.name.lower()}.{dandiset_id:06}"


def version_doi(settings: Settings, dandiset_id: int, version: str) -> str:
    return f"{concept_doi(settings, dandiset_id)}/{version}"


async def want_doi(
    session: AsyncSession,
    settings: Settings,
    dandiset_id: int,
    target: DoiTarget,
    *,
    version: str | None = None,
) -> str:
    """Record that DataCite should hold `target` for this DOI (created if new), and ask the
    doi worker once the transaction commits. A failed DOI is tried again: its target or its
    metadata changed."""
    doi = (
        version_doi(settings, dandiset_id, version)
        if version
        else concept_doi(settings, dandiset_id)
    )
    row = {"doi": doi, "dandiset_id": dandiset_id, "version": version, "target": target}
    statement = insert(Doi).values(row)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Doi.doi],
            set_={
                "target": statement.excluded.target,
                "updated": func.clock_timestamp(),  # compared with wall-clock sync times
                "error": None,
                "error_status": None,
                "attempts": 0,
                # A refusal is reconsidered; other states stay what DataCite last said.
                "state": case(
                    (Doi.state == DoiState.FAILED, DoiState.PENDING.value), else_=Doi.state
                ),
            },
        )
    )
    enqueue_after_commit(session, SYNC_DOI, DoiRef(doi=doi))
    return doi
