"""DOI jobs: bring DataCite to what each `dois` row asks for.

`sync_doi` reads the row and the metadata, makes one idempotent DataCite call (PUT upserts,
hide, delete of a draft) without holding a database lock, then records what DataCite said.
Timeouts, 429 and 5xx retry with backoff; a refusal (4xx) or a payload that would not
validate is recorded as `failed` with the reason and not retried until the row is asked for
again. `reconcile` re-asks for every row not yet in step, so an outage longer than a job's
tries only delays registration.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from arq import Retry
from arq.cron import CronJob, cron
from sqlalchemy import or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import DoiState, DoiTarget
from dandelion_common.db.models import Dandiset, Doi, Version
from dandelion_common.dois import concept_doi, version_doi
from dandelion_common.jobs.contracts import SYNC_DOI, DoiRef
from dandelion_common.jobs.resources import worker_resources
from dandelion_common.jobs.worker import (
    Context,
    handler,
    job_session,
    retry_delay,
)
from dandelion_common.metadata import full_metadata
from dandelion_common.settings import Settings
from dandelion_doi.datacite import DataCiteClient, DoiRecord
from dandelion_doi.exceptions import (
    DataCiteRejected,
    DataCiteUnavailable,
    DoiNotDraft,
    PayloadInvalid,
)
from dandelion_doi.payloads import concept_attributes, version_attributes
from dandelion_doi.resources import DoiResources

logger = logging.getLogger("dandelion.doi")


@dataclass(frozen=True)
class Plan:
    """The one DataCite call a row needs: a PUT of `attributes`, a hide, or a delete."""

    doi: str
    target: DoiTarget
    state: DoiState
    attributes: dict[str, Any] | None


def landing_url(settings: Settings, dandiset_id: int, version: str | None = None) -> str:
    base = f"{settings.instance.web_url}/dandiset/{dandiset_id:06}"
    return f"{base}/{version}" if version else base


async def _published(session: AsyncSession, dandiset_id: int) -> list[Version]:
    """The dandiset's published versions, newest first."""
    query = select(Version).where(Version.dandiset_id == dandiset_id, Version.version != "draft")
    return list(await session.scalars(query.order_by(Version.id.desc())))


async def _concept(
    session: AsyncSession, settings: Settings, row: Doi, findable: bool
) -> dict[str, Any] | None:
    url = landing_url(settings, row.dandiset_id)
    published = await _published(session, row.dandiset_id)
    if findable and published:
        dois = [version_doi(settings, row.dandiset_id, v.version) for v in published]
        return concept_attributes(
            published[0].metadata_, doi=row.doi, url=url, findable=True, version_dois=dois
        )
    query = select(Version).where(
        Version.dandiset_id == row.dandiset_id, Version.version == "draft"
    )
    draft, dandiset = await session.scalar(query), await session.get(Dandiset, row.dandiset_id)
    if draft is None or dandiset is None:
        return None  # deleted meanwhile: its row's target changes with it
    metadata = full_metadata(settings, dandiset, draft)
    return concept_attributes(metadata, doi=row.doi, url=url, findable=False)


async def attributes_for(
    session: AsyncSession, settings: Settings, row: Doi
) -> dict[str, Any] | None:
    """What to PUT for a draft or findable target (None: nothing to send)."""
    findable = row.target is DoiTarget.FINDABLE
    if row.version is None:
        return await _concept(session, settings, row, findable)
    query = select(Version).where(
        Version.dandiset_id == row.dandiset_id, Version.version == row.version
    )
    version = await session.scalar(query)
    if version is None:
        return None
    concept = concept_doi(settings, row.dandiset_id)
    return version_attributes(version.metadata_, concept_doi=concept, findable=findable)


async def plan(session: AsyncSession, settings: Settings, doi: str) -> Plan | str:
    """The call to make, or why there is none."""
    row = await session.get(Doi, doi)
    if row is None:
        return "unknown DOI"
    if row.state is DoiState.FAILED:
        return f"failed until asked again: {row.error}"
    if row.synced is not None and row.synced >= row.updated:
        return "in step"
    attributes = None
    if row.target in (DoiTarget.DRAFT, DoiTarget.FINDABLE):
        if row.target is DoiTarget.DRAFT and row.state in (DoiState.FINDABLE, DoiState.REGISTERED):
            return "registered DOIs never go back to draft"
        attributes = await attributes_for(session, settings, row)
        if attributes is None:
            return "nothing to describe"
    return Plan(row.doi, row.target, row.state, attributes)


async def apply(datacite: DataCiteClient, step: Plan) -> DoiState:
    """Make the call; the state DataCite holds afterwards."""
    if step.attributes is not None:
        return _state(await datacite.put_doi(step.doi, step.attributes))
    if step.target is DoiTarget.DELETED or step.state in (DoiState.PENDING, DoiState.DRAFT):
        try:  # a draft can go; a registered or findable DOI is only ever hidden
            await datacite.delete_draft(step.doi)
            return DoiState.DELETED
        except DoiNotDraft:
            pass
    hidden = await datacite.hide(step.doi)
    return _state(hidden) if hidden is not None else step.state


def _state(record: DoiRecord) -> DoiState:
    return DoiState(record.state)


async def _record(ctx: Context, doi: str, **values: Any) -> None:
    async with job_session(ctx) as session:
        await session.execute(update(Doi).where(Doi.doi == doi).values(**values))


@handler(SYNC_DOI)
async def sync_doi(ctx: Context, payload: DoiRef) -> str:
    """Bring one DOI in step with DataCite: read and plan in one step, call DataCite outside
    any transaction, record the answer in another step."""
    resources = worker_resources(ctx, DoiResources)
    settings, datacite = resources.settings, resources.datacite
    if datacite is None:
        return "DOI minting is disabled"
    started = datetime.now(UTC)
    async with job_session(ctx) as session:
        try:
            step = await plan(session, settings, payload.doi)
        except PayloadInvalid as exc:
            step = str(exc)
            await session.execute(
                update(Doi).where(Doi.doi == payload.doi).values(state=DoiState.FAILED, error=step)
            )
    if isinstance(step, str):
        return step
    try:
        state = await apply(datacite, step)
    except DataCiteUnavailable as exc:
        await _record(ctx, payload.doi, attempts=Doi.attempts + 1, error=str(exc))
        delay = max(exc.retry_after or 0.0, retry_delay(ctx.get("job_try", 1)))
        raise Retry(defer=delay) from exc
    except DataCiteRejected as exc:
        logger.warning("DataCite refused a DOI", extra={"doi": payload.doi, "error": str(exc)})
        values = {"state": DoiState.FAILED, "error": str(exc), "error_status": exc.status}
        await _record(ctx, payload.doi, **values)
        return f"refused: {exc}"
    # `synced` is when this call started: a change asked for meanwhile is newer and re-syncs.
    await _record(ctx, payload.doi, state=state, synced=started, error=None, error_status=None)
    return state.value


# What the archive's tables say DataCite should hold, applied to the `dois` rows: a concept
# DOI for every open dandiset (embargoed ones get none until unembargo), gone with a deleted
# unpublished dandiset, hidden with a deleted version; a draft concept DOI follows its
# draft's metadata.
DISCOVER = [
    """INSERT INTO dois (doi, dandiset_id, target)
        SELECT concat(CAST(:prefix AS text), '/', CAST(:instance AS text), '.',
               lpad(d.id::text, 6, '0')), d.id, 'draft'
        FROM dandisets d WHERE d.embargo_status = 'OPEN'
        ON CONFLICT (doi) DO NOTHING""",
    """UPDATE dois SET target = 'deleted', updated = clock_timestamp()
        WHERE version IS NULL AND target = 'draft'
        AND NOT EXISTS (SELECT 1 FROM dandisets d WHERE d.id = dois.dandiset_id)""",
    """UPDATE dois SET target = 'hidden', updated = clock_timestamp()
        WHERE target = 'findable' AND NOT EXISTS (
            SELECT 1 FROM versions v WHERE v.dandiset_id = dois.dandiset_id
            AND v.version = coalesce(dois.version, v.version))""",
    """UPDATE dois SET updated = clock_timestamp() FROM versions v
        WHERE dois.version IS NULL AND dois.target = 'draft' AND dois.state <> 'failed'
        AND v.dandiset_id = dois.dandiset_id AND v.version = 'draft'
        AND dois.synced IS NOT NULL AND v.modified > dois.synced""",
]


async def discover(session: AsyncSession, settings: Settings) -> None:
    names = {"prefix": settings.doi.prefix, "instance": settings.instance.name.lower()}
    for statement in DISCOVER:
        await session.execute(text(statement), names if ":prefix" in statement else {})


async def reconcile(ctx: Context) -> int:
    """Bring the rows in line with the archive, then ask again for every DOI that is not in
    step and has not been refused."""
    resources = worker_resources(ctx, DoiResources)
    settings = resources.settings
    if not settings.doi.minting:
        return 0
    async with job_session(ctx) as session:
        await discover(session, settings)
    async with job_session(ctx) as session:
        behind = select(Doi.doi).where(
            Doi.state != DoiState.FAILED, or_(Doi.synced.is_(None), Doi.synced < Doi.updated)
        )
        dois = list(await session.scalars(behind))
    for doi in dois:
        await resources.queue.enqueue(SYNC_DOI, DoiRef(doi=doi))
    return len(dois)


def reconcile_cron(settings: Settings) -> CronJob | None:
    every = settings.doi.reconcile_minutes
    minutes = set(range(0, 60, every)) if every < 60 else {0}
    return cron(reconcile, name="reconcile_dois", minute=minutes, unique=True)
