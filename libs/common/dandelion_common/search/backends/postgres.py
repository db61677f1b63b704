"""Search on PostgreSQL: the embedded default, over the worker-maintained search tables.

Text is folded in Python and stored as a `simple` tsvector (title weight A, the rest D); a
query's words are ANDed with `plainto_tsquery('simple', ...)`. Facets are text[] columns
matched with `&&` (OR within a facet); each facet's counts come from the same filters minus
its own selection, as OpenSearch's post_filter + filtered aggregations give.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    MetaData,
    Select,
    Table,
    and_,
    delete,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.models import SearchAssetDocument, SearchDandisetDocument
from dandelion_common.db.session import Database
from dandelion_common.search.backends.base import POST_TAG, PRE_TAG, decode_cursor, encode_cursor
from dandelion_common.search.errors import InvalidCursor, SearchUnavailable
from dandelion_common.search.folding import fold
from dandelion_common.search.schemas import (
    Facet,
    FacetCount,
    Hit,
    IndexRow,
    Kind,
    SearchQuery,
    SearchResult,
    SortKey,
    Visibility,
)

LIVE: dict[Kind, Table] = {
    Kind.DANDISETS: SearchDandisetDocument.__table__,  # type: ignore[dict-item]
    Kind.ASSETS: SearchAssetDocument.__table__,  # type: ignore[dict-item]
}
SIMPLE: ColumnElement[Any] = literal_column("'simple'::regconfig")
# asyncpg allows 32767 parameters per statement; a row binds about 25.
WRITE_BATCH = 1000
HEADLINE = f"StartSel={PRE_TAG}, StopSel={POST_TAG}"
TITLE_HEADLINE = f"HighlightAll=true, {HEADLINE}"
BODY_HEADLINE = f"MaxFragments=1, MaxWords=25, MinWords=10, {HEADLINE}"


def _vector(row: IndexRow) -> ColumnElement[Any]:
    title = func.setweight(func.to_tsvector(SIMPLE, row.title_text), literal_column("'A'"))
    body = func.setweight(func.to_tsvector(SIMPLE, row.body_text), literal_column("'D'"))
    return title.op("||")(body)


def _values(row: IndexRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "dandiset_id": row.dandiset_id,
        "embargoed": row.embargoed,
        "title": row.title,
        "description": row.description,
        "sort_name": row.sort_name,
        "size": row.size,
        "modified": row.modified,
        "search": _vector(row),
        **{facet.value: row.facets.get(facet, []) for facet in Facet},
        **row.ranges,
        "document": row.document,
    }


class PostgresSearchBackend:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _table(self, kind: Kind, target: str | None) -> Table:
        live = LIVE[kind]
        return live if target is None else live.to_metadata(MetaData(), name=target)

    async def ensure_schema(self) -> None:
        """The tables belong to the migrations; only check that they were applied."""
        async with self.db.session() as session:
            for table in LIVE.values():
                if await session.scalar(select(func.to_regclass(table.name))) is None:
                    raise SearchUnavailable(f"table {table.name} is missing: run migrations")

    async def bulk_upsert(
        self, kind: Kind, rows: Sequence[IndexRow], *, target: str | None = None
    ) -> None:
        table = self._table(kind, target)
        async with self.db.session() as session:
            for start in range(0, len(rows), WRITE_BATCH):
                statement = insert(table).values([_values(r) for r in rows[start:][:WRITE_BATCH]])
                columns = {c.name: statement.excluded[c.name] for c in table.c if c.name != "id"}
                await session.execute(
                    statement.on_conflict_do_update(index_elements=["id"], set_=columns)
                )
            await session.commit()

    async def bulk_delete(
        self, kind: Kind, ids: Sequence[str], *, target: str | None = None
    ) -> None:
        table = self._table(kind, target)
        async with self.db.session() as session:
            await session.execute(delete(table).where(table.c.id.in_(ids)))
            await session.commit()

    async def delete_dandisets(
        self, kind: Kind, dandiset_ids: Sequence[int], *, target: str | None = None
    ) -> None:
        table = self._table(kind, target)
        async with self.db.session() as session:
            await session.execute(delete(table).where(table.c.dandiset_id.in_(dandiset_ids)))
            await session.commit()

    async def search(self, query: SearchQuery, visibility: Visibility) -> SearchResult:
        plan = _Plan(LIVE[query.kind], query, visibility)
        async with self.db.session() as session:
            total = await session.scalar(plan.count())
            hits = await plan.hits(session)
            facets = await plan.facets(session)
        next_cursor = plan.cursor_after(hits) if len(hits) == query.size else None
        return SearchResult(
            total=total or 0,
            hits=[plan.hit(row) for row in hits],
            facets=facets,
            next_cursor=next_cursor,
        )

    # --- rebuild: a shadow table, swapped in by renames in one transaction ---------------

    async def begin_rebuild(self, kind: Kind) -> str:
        live = LIVE[kind].name
        target = f"{live}_rebuild"
        async with self.db.session() as session:
            await session.execute(text(f'DROP TABLE IF EXISTS "{target}"'))
            await session.execute(text(f'CREATE TABLE "{target}" (LIKE "{live}" INCLUDING ALL)'))
            await session.commit()
        return target

    async def finish_rebuild(self, kind: Kind, target: str) -> None:
        live = LIVE[kind].name
        async with self.db.session() as session:
            # Readers wait for the lock for the few milliseconds of the renames, never see a
            # half-built table, and the migration's index names are restored afterwards.
            await session.execute(text(f'LOCK TABLE "{live}" IN ACCESS EXCLUSIVE MODE'))
            renames = await _index_renames(session, source=target, like=live)
            await session.execute(text(f'ALTER TABLE "{live}" RENAME TO "{live}_old"'))
            await session.execute(text(f'ALTER TABLE "{target}" RENAME TO "{live}"'))
            await session.execute(text(f'DROP TABLE "{live}_old"'))
            for built, canonical in renames:
                await session.execute(text(f'ALTER INDEX "{built}" RENAME TO "{canonical}"'))
            await session.commit()

    async def abort_rebuild(self, kind: Kind, target: str) -> None:
        async with self.db.session() as session:
            await session.execute(text(f'DROP TABLE IF EXISTS "{target}"'))
            await session.commit()

    async def close(self) -> None:
        """The database belongs to the caller."""


_INDEX_DEFS = text("""
SELECT c.relname, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = to_regclass(:table)
""")


async def _index_renames(session: AsyncSession, *, source: str, like: str) -> list[tuple[str, str]]:
    """(index of `source`, name of the same index on `like`): CREATE TABLE ... LIKE names
    indexes after the new table, and the swapped-in table must keep the migration's names."""

    async def by_definition(table: str) -> dict[str, str]:
        rows = await session.execute(_INDEX_DEFS, {"table": table})
        pattern = re.compile(r"INDEX \S+ ON \S+")
        return {pattern.sub("INDEX ON", definition): name for name, definition in rows}

    built, canonical = await by_definition(source), await by_definition(like)
    return [(name, canonical[d]) for d, name in built.items() if d in canonical]


def _cursor_id(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidCursor()
    return value


def _cursor_value(sort: SortKey, value: Any) -> Any:
    """A cursor's sort value, checked against the sort's type: a mistyped value would fail
    in PostgreSQL as a server error instead of the client's."""
    if sort is SortKey.NAME and isinstance(value, str):
        return value
    if sort is SortKey.MODIFIED and isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise InvalidCursor() from None
    numeric = sort in (SortKey.RELEVANCE, SortKey.SIZE)
    if numeric and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise InvalidCursor()


class _Plan:
    """The statements of one search: the same filters, shaped for hits, total and facets."""

    def __init__(self, table: Table, query: SearchQuery, visibility: Visibility) -> None:
        self.table, self.query, self.visibility = table, query, visibility
        words = fold([query.text])
        self.tsquery = func.plainto_tsquery(SIMPLE, words) if words else None

    def _base(self) -> list[ColumnElement[bool]]:
        """Visibility, text and ranges: what every facet count also obeys."""
        c = self.table.c
        conditions: list[ColumnElement[bool]] = []
        if not self.visibility.admin:
            owned = list(self.visibility.owned_dandisets)
            mine = c.dandiset_id.in_(owned) if owned else false()
            conditions.append(or_(c.embargoed.is_(False), mine))
        if self.tsquery is not None:
            conditions.append(c.search.op("@@")(self.tsquery))
        for field, bounds in self.query.ranges.items():
            low, high = field.bounds
            if bounds.gte is not None:
                conditions.append(c[high] >= bounds.gte)
            if bounds.lte is not None:
                conditions.append(c[low] <= bounds.lte)
        return conditions

    def _facet_filters(self, *, without: Facet | None = None) -> list[ColumnElement[bool]]:
        return [
            self.table.c[facet.value].overlap(sorted(values))
            for facet, values in self.query.selected().items()
            if facet is not without
        ]

    def _where(self, *, without: Facet | None = None) -> ColumnElement[bool]:
        return and_(true(), *self._base(), *self._facet_filters(without=without))

    def count(self) -> Select[Any]:
        return select(func.count()).select_from(self.table).where(self._where())

    def _rank(self) -> ColumnElement[Any]:
        if self.tsquery is None:
            return literal(0.0)
        return func.ts_rank_cd(self.table.c.search, self.tsquery)

    def _sort_column(self) -> ColumnElement[Any]:
        if self.query.sort is SortKey.RELEVANCE:
            return self._rank()
        return self.table.c[self.query.sort.field]

    def _after(self, key: ColumnElement[Any]) -> ColumnElement[bool]:
        """Keyset paging: strictly after the cursor's (sort value, id)."""
        assert self.query.cursor is not None
        if self.query.sort is SortKey.ID:
            (last_id,) = decode_cursor(self.query.cursor, 1)
            return self.table.c.id > _cursor_id(last_id)
        raw, last_id = decode_cursor(self.query.cursor, 2)
        value = _cursor_value(self.query.sort, raw)
        beyond = key < value if self.query.is_descending else key > value
        return or_(beyond, and_(key == value, self.table.c.id > _cursor_id(last_id)))

    async def hits(self, session: AsyncSession) -> list[Any]:
        c, key = self.table.c, self._sort_column()
        columns: list[ColumnElement[Any]] = [c.id, c.document, self._rank().label("score")]
        columns += [key.label("key"), *self._headlines()]
        statement = select(*columns).where(self._where())
        if self.query.cursor:
            statement = statement.where(self._after(key))
        order = key.desc() if self.query.is_descending else key.asc()
        if self.query.sort is not SortKey.ID:
            statement = statement.order_by(order, c.id)
        else:
            statement = statement.order_by(c.id)
        return list(await session.execute(statement.limit(self.query.size)))

    def _headlines(self) -> list[ColumnElement[Any]]:
        if self.tsquery is None or not self.query.highlight:
            return []
        c = self.table.c
        title = func.ts_headline(SIMPLE, c.title, self.tsquery, TITLE_HEADLINE)
        body = func.ts_headline(SIMPLE, c.description, self.tsquery, BODY_HEADLINE)
        return [title.label("hl_title"), body.label("hl_description")]

    def hit(self, row: Any) -> Hit:
        highlights: dict[str, list[str]] = {}
        mapping = row._mapping
        title_field = "name" if self.query.kind is Kind.DANDISETS else "path"
        for label, field in (("hl_title", title_field), ("hl_description", "description")):
            fragment = mapping.get(label)
            if fragment and PRE_TAG in fragment:
                highlights[field] = [fragment]
        score = float(row.score) if self.query.sort is SortKey.RELEVANCE else None
        return Hit(id=row.id, score=score, document=row.document, highlights=highlights)

    def cursor_after(self, rows: list[Any]) -> str | None:
        if not rows:
            return None
        last = rows[-1]
        if self.query.sort is SortKey.ID:
            return encode_cursor([last.id])
        value = last.key.isoformat() if isinstance(last.key, datetime) else last.key
        return encode_cursor([value, last.id])

    async def facets(self, session: AsyncSession) -> dict[Facet, list[FacetCount]]:
        if self.query.facet_size == 0:
            return {}
        statement = union_all(*(self._facet_select(facet) for facet in Facet))
        counts: dict[Facet, list[FacetCount]] = {facet: [] for facet in Facet}
        for facet, value, count in await session.execute(statement):
            counts[Facet(facet)].append(FacetCount(value=value, count=count))
        for values in counts.values():  # UNION ALL keeps no order; code points = "C" order
            values.sort(key=lambda c: (-c.count, c.value))
        return counts

    def _facet_select(self, facet: Facet) -> Select[Any]:
        """The top values of `facet` under every filter except its own selection."""
        value = func.unnest(self.table.c[facet.value]).label("value")
        values = select(value).where(self._where(without=facet)).subquery()
        count = func.count().label("n")
        top = (
            select(literal(facet.value).label("facet"), values.c.value, count)
            .group_by(values.c.value)
            .order_by(count.desc(), values.c.value.collate("C"))
            .limit(self.query.facet_size)
            .subquery()
        )
        return select(top.c.facet, top.c.value, top.c.n)
