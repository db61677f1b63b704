"""Dandiset queries. A list page is one statement, whatever its size, and so is a dandiset
with all its record shows (its draft, latest published version, stars, uploads, and whether
the caller owns and starred it): each round trip costs the API more CPU than PostgreSQL
spends on these small indexed reads, so they are folded into one query with correlated
subqueries instead of a query per fact."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    and_,
    exists,
    false,
    func,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from dandelion_api.dandisets.access import owned_by, owner_flag, readable_by
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


def _star_count(dandiset: Any = Dandiset) -> ColumnElement[int]:
    """The stars of `dandiset` (the entity or an alias of it, in the query's FROM)."""
    return (
        select(func.count())
        .where(DandisetStar.dandiset_id == dandiset.id)
        .correlate(dandiset)
        .scalar_subquery()
    )


def _starred(user: User | None, dandiset: Any = Dandiset) -> ColumnElement[bool]:
    if user is None:
        return false()
    return exists().where(DandisetStar.dandiset_id == dandiset.id, DandisetStar.user_id == user.id)


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


def _filtered(filters: ListFilters, user: User | None) -> tuple[Select[Any], FromClause]:
    """The listing's query, unordered, and the alias of the current version it may join."""
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
    return query, current


def _order(filters: ListFilters, current: FromClause) -> list[Any]:
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
        return [column.desc() if ordering.startswith("-") else column.asc(), Dandiset.id]
    if filters.starred:
        return [DandisetStar.created.desc(), Dandiset.id]
    return [Dandiset.created, Dandiset.id]


def _upload_count() -> ColumnElement[int]:
    return (
        select(func.count())
        .where(Upload.dandiset_id == Dandiset.id)
        .correlate(Dandiset)
        .scalar_subquery()
    )


@dataclass(frozen=True)
class DandisetRecord:
    """A dandiset with what its list item or record shows."""

    dandiset: Dandiset
    draft: Version | None
    published: Version | None  # the most recent (highest id)
    stars: int
    starred: bool  # by the caller
    owned: bool = False  # by the caller (admins own all)
    uploads: int = 0  # unfinished, of the draft


def _with_versions(query: Any, dandiset: Any, *, lock_draft: bool = False) -> Any:
    """`query` on `dandiset` (the entity or an alias of it) with its draft and most recent
    published version as entities (outer joins: a page may be read as a dandiset is made)."""
    draft = aliased(Version, name="draft_version")
    # LATERAL, not a join on `id = (SELECT max(id) ...)`: a correlated subquery in a join
    # condition is run for every pair of rows, this is one index lookup per dandiset.
    latest = (
        select(Version)
        .where(Version.dandiset_id == dandiset.id, Version.version != "draft")
        .order_by(Version.id.desc())
        .limit(1)
        .correlate(dandiset)
        .lateral("published_version")
    )
    published = aliased(Version, latest)
    on_draft = and_(draft.dandiset_id == dandiset.id, draft.version == "draft")
    # FOR UPDATE cannot lock the nullable side of an outer join; every dandiset has a draft.
    query = query.add_columns(draft, published)
    query = query.join(draft, on_draft) if lock_draft else query.outerjoin(draft, on_draft)
    query = query.outerjoin(latest, true())
    return query.with_for_update(of=draft) if lock_draft else query


async def record(
    session: AsyncSession, dandiset_id: int, user: User | None, *, lock_draft: bool = False
) -> DandisetRecord | None:
    """One dandiset and everything its record shows, in one statement; with `lock_draft`,
    its draft row locked FOR UPDATE (the draft is then read once, locked)."""
    facts = select(
        Dandiset, _star_count(), _starred(user), owner_flag(user), _upload_count()
    ).where(Dandiset.id == dandiset_id)
    row = (await session.execute(_with_versions(facts, Dandiset, lock_draft=lock_draft))).first()
    if row is None:
        return None
    dandiset, stars, starred, owned, uploads, draft, published = row
    return DandisetRecord(dandiset, draft, published, int(stars), bool(starred), bool(owned),
                          int(uploads))  # fmt: skip


async def list_page(
    session: AsyncSession, filters: ListFilters, user: User | None, *, offset: int, limit: int
) -> tuple[list[DandisetRecord], int]:
    """A page and the count of the whole listing, in one statement: the count rides on each
    row as a window over the filtered set (computed before LIMIT), and the page's rows are
    joined to their versions and stars after the LIMIT. An empty page tells no count: past
    page 1 it is a 404 whatever the count, and page 1 empty means there are none."""
    filtered, current = _filtered(filters, user)
    order = _order(filters, current)
    page = (
        filtered.add_columns(
            func.count().over().label("total"),
            func.row_number().over(order_by=order).label("position"),
        )
        .order_by(*order)
        .offset(offset)
        .limit(limit)
        .subquery("page")
    )
    dandiset = aliased(Dandiset, page)
    query = select(dandiset, page.c.total, _star_count(dandiset), _starred(user, dandiset))
    query = _with_versions(query, dandiset).order_by(page.c.position)
    rows = (await session.execute(query)).all()
    count = int(rows[0][1]) if rows else 0
    records = [DandisetRecord(row[0], row[4], row[5], int(row[2]), bool(row[3])) for row in rows]
    return records, count


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
