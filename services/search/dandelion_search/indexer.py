"""Keeping the index equal to the database: the outbox drain and the zero-downtime reindex.

Drain: one drainer at a time (a transaction-level advisory lock, so two drains never write an
entity's states out of order) claims outbox rows with FOR UPDATE SKIP LOCKED, coalesces them
by entity, re-reads the current state, writes it to the backend, and deletes the rows in the
same transaction only after the backend acknowledged. Outbox operations are hints: what is
written is always what the database says now, so running a drain twice is harmless.

Reindex: a marker row makes every drain note the entities it writes; the new index is loaded
from the database, the noted entities are replayed into it, the backend swaps it in, and a
last replay under the drain lock catches what drains wrote meanwhile. Nothing committed while
a reindex runs is lost.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import OutboxEntity
from dandelion_common.db.models import (
    Dandiset,
    SearchIndexedDandiset,
    SearchOutbox,
    SearchRebuild,
    SearchRebuildTouched,
    Version,
    VersionAsset,
)
from dandelion_common.db.session import Database
from dandelion_search.backends.base import SearchBackend
from dandelion_search.documents import asset_rows, dandiset_rows, identifier
from dandelion_search.schemas import IndexRow, Kind

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock key held by the drain (and briefly by a reindex): "dandsrch".
DRAIN_LOCK = 0x64616E6473726368
BATCH = 500
# In the touched list of the assets kind, a deleted dandiset whose assets must all go.
DANDISET_PREFIX = "dandiset:"

Progress = Callable[[int], None]


@dataclass
class Changes:
    """What a set of outbox rows means for the index, read from the current state."""

    dandisets: list[IndexRow] = field(default_factory=list)
    gone_dandisets: set[int] = field(default_factory=set)
    assets: list[IndexRow] = field(default_factory=list)
    gone_assets: set[str] = field(default_factory=set)

    def touched(self) -> dict[Kind, set[str]]:
        return {
            Kind.DANDISETS: {identifier(r.dandiset_id) for r in self.dandisets}
            | {identifier(i) for i in self.gone_dandisets},
            Kind.ASSETS: {r.id for r in self.assets}
            | self.gone_assets
            | {f"{DANDISET_PREFIX}{i}" for i in self.gone_dandisets},
        }


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _ints(values: Iterable[str]) -> set[int]:
    return {int(v) for v in values if v.isdigit()}


async def _resolve(
    session: AsyncSession, rows: Sequence[SearchOutbox]
) -> tuple[set[int], set[uuid.UUID]]:
    """The dandisets and assets the rows name (a version names its dandiset)."""
    by_type: dict[OutboxEntity, set[str]] = {entity: set() for entity in OutboxEntity}
    for row in rows:
        by_type[row.entity_type].add(row.entity_id)
    dandisets = _ints(by_type[OutboxEntity.DANDISET])
    versions = _ints(by_type[OutboxEntity.VERSION])
    if versions:
        query = select(Version.dandiset_id).where(Version.id.in_(versions))
        dandisets |= set(await session.scalars(query))
    assets = {u for v in by_type[OutboxEntity.ASSET] if (u := _uuid(v)) is not None}
    return dandisets, assets


async def _embargo_changed(session: AsyncSession, rows: list[IndexRow]) -> list[int]:
    """Dandisets whose access differs from what they were last indexed with."""
    ids = [r.dandiset_id for r in rows]
    query = select(SearchIndexedDandiset).where(SearchIndexedDandiset.dandiset_id.in_(ids))
    before = {s.dandiset_id: s.embargoed for s in await session.scalars(query)}
    return [
        r.dandiset_id
        for r in rows
        if r.dandiset_id in before and before[r.dandiset_id] != r.embargoed
    ]


async def _assets_of(session: AsyncSession, dandiset_ids: list[int]) -> set[uuid.UUID]:
    query = (
        select(VersionAsset.asset_id)
        .join(Version, Version.id == VersionAsset.version_id)
        .where(Version.dandiset_id.in_(dandiset_ids))
    )
    return set(await session.scalars(query))


async def read_changes(
    session: AsyncSession, dandiset_ids: set[int], asset_ids: set[uuid.UUID]
) -> Changes:
    """The current state of these entities, plus what their changes imply: an asset's
    dandiset summary, and every asset of a dandiset whose embargo status changed."""
    changes = Changes()
    changes.assets = await asset_rows(session, sorted(asset_ids))
    dandiset_ids |= {r.dandiset_id for r in changes.assets}
    changes.dandisets = await dandiset_rows(session, sorted(dandiset_ids))
    changes.gone_dandisets = dandiset_ids - {r.dandiset_id for r in changes.dandisets}
    if changed := await _embargo_changed(session, changes.dandisets):
        more = await _assets_of(session, changed) - asset_ids
        changes.assets += await asset_rows(session, sorted(more))
        asset_ids |= more
    changes.gone_assets = {str(a) for a in asset_ids} - {r.id for r in changes.assets}
    return changes


async def write_changes(backend: SearchBackend, changes: Changes) -> None:
    if changes.dandisets:
        await backend.bulk_upsert(Kind.DANDISETS, changes.dandisets)
    if changes.gone_dandisets:
        gone = sorted(changes.gone_dandisets)
        await backend.delete_dandisets(Kind.DANDISETS, gone)
        await backend.delete_dandisets(Kind.ASSETS, gone)
    for start in range(0, len(changes.assets), BATCH):
        await backend.bulk_upsert(Kind.ASSETS, changes.assets[start : start + BATCH])
    if changes.gone_assets:
        await backend.bulk_delete(Kind.ASSETS, sorted(changes.gone_assets))


async def _remember(session: AsyncSession, changes: Changes) -> None:
    """Record the embargo state indexed, and note writes for a reindex in progress."""
    if changes.dandisets:
        statement = insert(SearchIndexedDandiset).values(
            [{"dandiset_id": r.dandiset_id, "embargoed": r.embargoed} for r in changes.dandisets]
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["dandiset_id"], set_={"embargoed": statement.excluded.embargoed}
            )
        )
    if changes.gone_dandisets:
        await session.execute(
            delete(SearchIndexedDandiset).where(
                SearchIndexedDandiset.dandiset_id.in_(changes.gone_dandisets)
            )
        )
    rebuilding = set(await session.scalars(select(SearchRebuild.kind)))
    notes = [
        {"kind": kind.value, "entity_id": entity_id}
        for kind, ids in changes.touched().items()
        if kind.value in rebuilding
        for entity_id in ids
    ]
    if notes:
        await session.execute(insert(SearchRebuildTouched).values(notes).on_conflict_do_nothing())


async def drain_once(db: Database, backend: SearchBackend, *, batch: int = BATCH) -> int:
    """Index one batch of outbox rows; returns how many rows it processed (0: nothing to do,
    or another drain holds the lock)."""
    async with db.session() as session:
        if not await session.scalar(select(func.pg_try_advisory_xact_lock(DRAIN_LOCK))):
            return 0
        claim = (
            select(SearchOutbox)
            .order_by(SearchOutbox.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
        rows = list(await session.scalars(claim))
        if not rows:
            return 0
        dandiset_ids, asset_ids = await _resolve(session, rows)
        changes = await read_changes(session, dandiset_ids, asset_ids)
        await write_changes(backend, changes)
        await _remember(session, changes)
        await session.execute(delete(SearchOutbox).where(SearchOutbox.id.in_([r.id for r in rows])))
        await session.commit()
    return len(rows)


async def drain(db: Database, backend: SearchBackend, *, max_batches: int = 100) -> int:
    """Drain until the outbox is empty (or `max_batches` were done); returns rows processed."""
    total = 0
    for _ in range(max_batches):
        done = await drain_once(db, backend)
        total += done
        if done < BATCH:
            break
    return total


# --- reindex -------------------------------------------------------------------------------


async def _mark(db: Database, backend: SearchBackend, kind: Kind, target: str) -> None:
    """Start noting drained entities. Under the drain lock, so a drain either finished before
    (and the load reads what it saw) or notes what it writes."""
    async with db.session() as session:
        await session.execute(select(func.pg_advisory_xact_lock(DRAIN_LOCK)))
        stale = await session.get(SearchRebuild, kind.value)
        if stale is not None:  # an interrupted reindex
            if stale.target != target:
                await backend.abort_rebuild(kind, stale.target)
            await session.delete(stale)
            await session.flush()
        session.add(SearchRebuild(kind=kind.value, target=target))
        await session.commit()


async def _page(session: AsyncSession, kind: Kind, after: str | None) -> list[str]:
    """The next ids to load, in id order (keyset paging, short transactions)."""
    if kind is Kind.DANDISETS:
        ids = select(Dandiset.id).where(Dandiset.id > int(after or 0)).order_by(Dandiset.id)
        return [str(i) for i in await session.scalars(ids.limit(BATCH))]
    assets = select(VersionAsset.asset_id).distinct().order_by(VersionAsset.asset_id)
    if after is not None:
        assets = assets.where(VersionAsset.asset_id > uuid.UUID(after))
    return [str(i) for i in await session.scalars(assets.limit(BATCH))]


async def count_documents(db: Database, kind: Kind) -> int:
    """How many documents a reindex of `kind` will load (a progress bar's length)."""
    if kind is Kind.DANDISETS:
        query = select(func.count()).select_from(Dandiset)
    else:
        query = select(func.count(VersionAsset.asset_id.distinct()))
    async with db.session() as session:
        return int(await session.scalar(query) or 0)


async def _rows(session: AsyncSession, kind: Kind, ids: list[str]) -> list[IndexRow]:
    if kind is Kind.DANDISETS:
        return await dandiset_rows(session, sorted(_ints(ids)))
    return await asset_rows(session, [u for i in ids if (u := _uuid(i)) is not None])


async def _load(
    db: Database, backend: SearchBackend, kind: Kind, target: str, progress: Progress | None
) -> int:
    loaded, after = 0, None
    while True:
        async with db.session() as session:
            ids = await _page(session, kind, after)
            rows = await _rows(session, kind, ids)
        if not ids:
            return loaded
        await backend.bulk_upsert(kind, rows, target=target)
        loaded, after = loaded + len(rows), ids[-1]
        if progress is not None:
            progress(loaded)


async def _apply_ids(
    session: AsyncSession, backend: SearchBackend, kind: Kind, ids: list[str], target: str | None
) -> None:
    """Write the current state of `ids` (kind's ids, or a deleted dandiset's marker)."""
    purged = _ints(i.removeprefix(DANDISET_PREFIX) for i in ids if i.startswith(DANDISET_PREFIX))
    if purged:
        await backend.delete_dandisets(kind, sorted(purged), target=target)
    plain = [i for i in ids if not i.startswith(DANDISET_PREFIX)]
    rows = await _rows(session, kind, plain)
    if rows:
        await backend.bulk_upsert(kind, rows, target=target)
    found = {r.id for r in rows}
    if gone := [i for i in plain if i not in found]:
        await backend.bulk_delete(kind, gone, target=target)


async def _replay(db: Database, backend: SearchBackend, kind: Kind, target: str) -> None:
    """Bring the new index up to date with what drains wrote while it was loading."""
    while True:
        async with db.session() as session:
            noted = (
                select(SearchRebuildTouched.entity_id)
                .where(SearchRebuildTouched.kind == kind.value)
                .limit(BATCH)
                .with_for_update()
            )
            ids = list(await session.scalars(noted))
            if not ids:
                return
            await _apply_ids(session, backend, kind, ids, target)
            await session.execute(
                delete(SearchRebuildTouched).where(
                    SearchRebuildTouched.kind == kind.value, SearchRebuildTouched.entity_id.in_(ids)
                )
            )
            await session.commit()


async def _finish(db: Database, backend: SearchBackend, kind: Kind) -> None:
    """After the swap, under the drain lock: a drain that wrote the old index just before
    the swap has committed its notes by now; replay them into the live (new) index."""
    async with db.session() as session:
        await session.execute(select(func.pg_advisory_xact_lock(DRAIN_LOCK)))
        noted = select(SearchRebuildTouched.entity_id).where(
            SearchRebuildTouched.kind == kind.value
        )
        ids = list(await session.scalars(noted))
        for start in range(0, len(ids), BATCH):
            await _apply_ids(session, backend, kind, ids[start : start + BATCH], None)
        await session.execute(delete(SearchRebuild).where(SearchRebuild.kind == kind.value))
        await session.commit()


async def reindex(
    db: Database, backend: SearchBackend, kind: Kind, *, progress: Progress | None = None
) -> int:
    """Rebuild `kind`'s index from the database without downtime; returns documents loaded."""
    target = await backend.begin_rebuild(kind)
    try:
        await _mark(db, backend, kind, target)
        loaded = await _load(db, backend, kind, target, progress)
        await _replay(db, backend, kind, target)
        await backend.finish_rebuild(kind, target)
    except BaseException:
        await backend.abort_rebuild(kind, target)
        async with db.session() as session:
            await session.execute(delete(SearchRebuild).where(SearchRebuild.kind == kind.value))
            await session.commit()
        raise
    await _finish(db, backend, kind)
    logger.info("reindexed", extra={"kind": kind.value, "documents": loaded})
    return loaded
