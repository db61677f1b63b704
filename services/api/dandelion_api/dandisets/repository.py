"""Dandiset queries. A list page costs a fixed number of queries, whatever its size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, FromClause, Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_api.dandisets.access import owned_by, readable_by
from dandelion_api.search.repository import AssetFacets, facet_condition, search_conditions
from dandelion_api.search.syntax import DateField, ParsedSearch
from dandelion_common.db.models import (
    Dandiset,
    DandisetOwner,
    DandisetStar,
    Upload,
    User,
    Version,
)


@dataclass(frozen=True)
class ListFilters:
    draft: bool = True
    empty: bool = True
    embargoed: bool = False
    mine: bool = False
    starred: bool = False
    search: ParsedSearch | None = None
    ordering: str | None = None
    # `/api/dandisets/search/`: only dandisets holding an asset that passes these.
    asset_facets: AssetFacets | None = None


def _current_version() -> ColumnElement[int]:
    """The most recently created version of each dandiset (DANDI orders by it)."""
    return select(func.max(Version.id)).where(Version.dandiset_id == Dandiset.id).scalar_subquery()


def _star_count() -> ColumnElement[int]:
    return (
        select(func.count())
        .where(DandisetStar.dandiset_id == Dandiset.id)
        .correlate(Dandiset)
        .scalar_subquery()
    )


def _visible(filters: ListFilters, user: User | None) -> ColumnElement[bool]:
    """Open dandisets; with `embargoed`, also those the caller may read."""
    return readable_by(user) if filters.embargoed else readable_by(None)


def _needs_current(filters: ListFilters) -> bool:
    """Only these read the most recent version; the default listing never joins it, nor
    does a search without `modified_*` (joined for every match, it costs more than the
    indexed text match itself)."""
    orders_by_version = (filters.ordering or "").lstrip("-") in ("name", "modified", "size")
    dates = filters.search.dates if filters.search else ()
    by_modified = any(d.field is DateField.MODIFIED for d in dates)
    return by_modified or not filters.empty or orders_by_version


def _filtered(filters: ListFilters, user: User | None) -> Select[Dandiset]:
    query = select(Dandiset).where(_visible(filters, user))
    current = Version.__table__.alias("current")
    if _needs_current(filters):
        query = query.join(current, current.c.id == _current_version())
    if filters.mine and user:
        query = query.where(owned_by(user))
    if filters.starred and user:
        query = query.join(
            DandisetStar,
            and_(DandisetStar.dandiset_id == Dandiset.id, DandisetStar.user_id == user.id),
        )
    if not filters.draft:
        query = query.where(
            exists().where(Version.dandiset_id == Dandiset.id, Version.version != "draft")
        )
    if not filters.empty:
        query = query.where(current.c.asset_count > 0)
    if filters.search:
        query = query.where(*search_conditions(filters.search, current))
    if filters.asset_facets:
        query = query.where(facet_condition(filters.asset_facets))
    return _ordered(query, filters, current)


def _ordered(
    query: Select[Dandiset], filters: ListFilters, current: FromClause
) -> Select[Dandiset]:
    columns = {
        "id": Dandiset.id,
        "name": current.c.name,
        "modified": current.c.modified,
        "size": current.c.size,
        "stars": _star_count(),
    }
    ordering = filters.ordering or ""
    key = ordering.lstrip("-")
    if key in columns:
        column = columns[key]
        direction = column.desc() if ordering.startswith("-") else column.asc()
        return query.order_by(direction, Dandiset.id)
    if filters.starred:
        return query.order_by(DandisetStar.created.desc(), Dandiset.id)
    return query.order_by(Dandiset.created, Dandiset.id)


async def list_page(
    session: AsyncSession, filters: ListFilters, user: User | None, *, offset: int, limit: int
) -> tuple[list[tuple[Dandiset, int]], int]:
    query = _filtered(filters, user)
    count = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    dandisets = list(await session.scalars(query.offset(offset).limit(limit)))
    stars = await star_counts(session, [d.id for d in dandisets])
    return [(d, stars.get(d.id, 0)) for d in dandisets], int(count or 0)


async def star_counts(session: AsyncSession, ids: Sequence[int]) -> dict[int, int]:
    """Stars of the dandisets on one page (not of every dandiset the listing considered)."""
    if not ids:
        return {}
    query = (
        select(DandisetStar.dandiset_id, func.count())
        .where(DandisetStar.dandiset_id.in_(ids))
        .group_by(DandisetStar.dandiset_id)
    )
    return {row[0]: int(row[1]) for row in await session.execute(query)}


async def versions_of(session: AsyncSession, ids: Sequence[int]) -> dict[int, dict[str, Version]]:
    """Per dandiset: its draft and its most recent published version (highest id)."""
    latest_published = (
        select(func.max(Version.id))
        .where(Version.dandiset_id.in_(ids), Version.version != "draft")
        .group_by(Version.dandiset_id)
    )
    query = select(Version).where(
        Version.dandiset_id.in_(ids),
        or_(Version.version == "draft", Version.id.in_(latest_published)),
    )
    found: dict[int, dict[str, Version]] = {i: {} for i in ids}
    for version in await session.scalars(query):
        found[version.dandiset_id]["draft" if version.version == "draft" else "published"] = version
    return found


async def starred_by(session: AsyncSession, ids: Sequence[int], user: User | None) -> set[int]:
    if user is None or not ids:
        return set()
    query = select(DandisetStar.dandiset_id).where(
        DandisetStar.dandiset_id.in_(ids), DandisetStar.user_id == user.id
    )
    return set(await session.scalars(query))


async def active_uploads(session: AsyncSession, ids: Sequence[int]) -> dict[int, int]:
    query = (
        select(Upload.dandiset_id, func.count())
        .where(Upload.dandiset_id.in_(ids))
        .group_by(Upload.dandiset_id)
    )
    return {d: int(n) for d, n in (await session.execute(query)).all()}


async def star_count(session: AsyncSession, dandiset_id: int) -> int:
    query = select(func.count()).where(DandisetStar.dandiset_id == dandiset_id)
    return int(await session.scalar(query) or 0)


async def owners(session: AsyncSession, dandiset_id: int) -> list[User]:
    query = (
        select(User)
        .join(DandisetOwner, DandisetOwner.user_id == User.id)
        .where(DandisetOwner.dandiset_id == dandiset_id)
        .order_by(User.username)
    )
    return list(await session.scalars(query))
