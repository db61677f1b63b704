"""Search on PostgreSQL: the embedded default, over the worker-maintained search tables.

Text is folded in Python and stored as a `simple` tsvector (title weight A, the rest D); a
query's words are ANDed with `plainto_tsquery('simple', ...)`. Facets are text[] columns
matched with `&&` (OR within a facet); each facet's counts come from the same filters minus
its own selection, as OpenSearch's post_filter + filtered aggregations give.

Broad queries stay cheap: the total is counted up to TOTAL_CAP (then "at least"), and a
facet whose matches exceed TOTAL_CAP is counted over a repeatable page sample of the table
(TABLESAMPLE SYSTEM, about SAMPLE_ROWS rows) and scaled up, so no search reads every match.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    FromClause,
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
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.models import SearchAssetDocument, SearchDandisetDocument
from dandelion_common.db.session import Database
from dandelion_common.web.resources import Probe
from dandelion_search.backends.base import (
    POST_TAG,
    PRE_TAG,
    SAMPLE_ROWS,
    decode_cursor,
    encode_cursor,
)
from dandelion_search.errors import InvalidCursor, SearchUnavailable
from dandelion_search.folding import fold
from dandelion_search.schemas import (
    TOTAL_CAP,
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
HEADLINE = f"StartSel={PRE_TAG}, StopSel={POST_TAG}"
TITLE_HEADLINE = f"HighlightAll=true, {HEADLINE}"
BODY_HEADLINE = f"MaxFragments=1, MaxWords=25, MinWords=10, {HEADLINE}"
# A facet sample reads about SAMPLE_ROWS rows' pages; REPEATABLE gives the same estimate
# (and the same warm pages) for the same query.
SAMPLE_SEED = 20261124
# Broad text queries rank this many matches (see `_Plan._source`).
RELEVANCE_WINDOW = 1000
# A sample estimating this many times the cap settles "more than the cap" without counting.
BROAD = 5
_RELTUPLES = text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:table)")


# Upserts COPY the rows into a session-local stage, then INSERT ... SELECT from it: the
# tsvector is built in SQL and nothing is compiled per row (about 7x a multi-row VALUES).
STAGE = "search_upsert_stage"
_RANGES = {"age_days_min": "float8", "age_days_max": "float8",
           "electrode_count_min": "int", "electrode_count_max": "int"}  # fmt: skip
_STAGED = {
    "id": "text", "dandiset_id": "int", "embargoed": "bool", "title": "text",
    "description": "text", "sort_name": "text", "size": "bigint", "modified": "timestamptz",
    "title_text": "text", "body_text": "text", **{f.value: "text[]" for f in Facet},
    **_RANGES, "document": "jsonb",
}  # fmt: skip
_STAGE_DDL = text(
    f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} "
    f"({', '.join(f'{name} {kind}' for name, kind in _STAGED.items())}) ON COMMIT DELETE ROWS"
)
_VECTOR = (
    "setweight(to_tsvector('simple', title_text), 'A')"
    " || setweight(to_tsvector('simple', body_text), 'D')"
)


def _upsert_sql(table: str) -> str:
    columns = [c for c in _STAGED if c not in ("title_text", "body_text")]
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in [*columns[1:], "search"])
    # Only our own table names and column constants are interpolated.
    return (
        f'INSERT INTO "{table}" ({", ".join(columns)}, search) '  # noqa: S608
        f"SELECT {', '.join(columns)}, {_VECTOR} FROM {STAGE} "
        f"ON CONFLICT (id) DO UPDATE SET {updates}"
    )


def _record(row: IndexRow) -> tuple[Any, ...]:
    ranges = {
        name: None if (v := row.ranges.get(name)) is None else (int(v) if kind == "int" else v)
        for name, kind in _RANGES.items()
    }
    return (
        row.id, row.dandiset_id, row.embargoed, row.title, row.description, row.sort_name,
        row.size, row.modified, row.title_text, row.body_text,
        *(row.facets.get(facet, []) for facet in Facet),
        *ranges.values(), json.dumps(row.document),
    )  # fmt: skip


class PostgresSearchBackend:
    def __init__(
        self, db: Database, *, total_cap: int = TOTAL_CAP, sample_rows: int = SAMPLE_ROWS
    ) -> None:
        self.db = db
        self.total_cap, self.sample_rows = total_cap, sample_rows

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
        latest = {row.id: row for row in rows}  # one row per id: ON CONFLICT needs it
        async with self.db.session() as session:
            connection = await (await session.connection()).get_raw_connection()
            driver = connection.driver_connection
            assert driver is not None
            await session.execute(_STAGE_DDL)
            await session.execute(text(f"TRUNCATE {STAGE}"))
            records = [_record(row) for row in latest.values()]
            await driver.copy_records_to_table(STAGE, records=records, columns=list(_STAGED))
            await session.execute(text(_upsert_sql(table.name)))
            await session.execute(text(f"TRUNCATE {STAGE}"))
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
        plan = _Plan(LIVE[query.kind], query, visibility, self.total_cap, self.sample_rows)
        async with self.db.session() as session:
            matches = await plan.matches(session)
            hits = await plan.hits(session, matches)
            facets, facets_exact = await plan.facets(session, matches)
        next_cursor = plan.cursor_after(hits) if len(hits) == query.size else None
        return SearchResult(
            total=min(matches, self.total_cap),
            total_exact=matches <= self.total_cap,
            hits=[plan.hit(row) for row in hits],
            facets=facets,
            facets_exact=facets_exact,
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

    def readiness(self) -> Mapping[str, Probe]:
        return {}  # the search tables live in the database readiness checks anyway

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

    def __init__(
        self, table: Table, query: SearchQuery, visibility: Visibility, cap: int, sample_rows: int
    ) -> None:
        self.table, self.query, self.visibility = table, query, visibility
        self.cap, self.sample_rows = cap, sample_rows
        self._percent: float | None = None
        words = fold([query.text])
        self.tsquery = func.plainto_tsquery(SIMPLE, words) if words else None

    def _base(self, source: FromClause) -> list[ColumnElement[bool]]:
        """Visibility, text and ranges: what every facet count also obeys."""
        c = source.c
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

    def _where(
        self, *, without: Facet | None = None, source: FromClause | None = None
    ) -> ColumnElement[bool]:
        source = self.table if source is None else source
        selections = [
            source.c[facet.value].overlap(sorted(values))
            for facet, values in self.query.selected().items()
            if facet is not without
        ]
        return and_(true(), *self._base(source), *selections)

    def capped_count(self, *, without: Facet | None = None) -> Select[Any]:
        """The matches, counted up to the cap + 1: the scan stops there."""
        matches = select(literal(1)).select_from(self.table).where(self._where(without=without))
        return select(func.count()).select_from(matches.limit(self.cap + 1).subquery())

    def _rank(self, c: Any) -> ColumnElement[Any]:
        if self.tsquery is None:
            return literal(0.0)
        return func.ts_rank_cd(c.search, self.tsquery)

    def _sort_column(self, c: Any) -> ColumnElement[Any]:
        if self.query.sort is SortKey.RELEVANCE:
            return self._rank(c)
        return c[self.query.sort.field]  # type: ignore[no-any-return]

    def _after(self, c: Any, key: ColumnElement[Any]) -> ColumnElement[bool]:
        """Keyset paging: strictly after the cursor's (sort value, id)."""
        assert self.query.cursor is not None
        if self.query.sort is SortKey.ID:
            (last_id,) = decode_cursor(self.query.cursor, 1)
            return c.id > _cursor_id(last_id)  # type: ignore[no-any-return]
        raw, last_id = decode_cursor(self.query.cursor, 2)
        value = _cursor_value(self.query.sort, raw)
        beyond = key < value if self.query.is_descending else key > value
        return or_(beyond, and_(key == value, c.id > _cursor_id(last_id)))

    def _source(self, matches: int) -> FromClause:
        """What the hits are chosen from. Ranking every match of a broad text query reads
        every match's tsvector (and finding them scans the table), so above the cap relevance
        orders the first RELEVANCE_WINDOW matches (the same ones for every page), as a
        search engine's result window does."""
        broad = self.tsquery is not None and matches > self.cap
        if self.query.sort is SortKey.RELEVANCE and broad:
            window = min(self.cap, RELEVANCE_WINDOW)
            return select(self.table).where(self._where()).limit(window).subquery()
        return self.table

    async def hits(self, session: AsyncSession, matches: int) -> list[Any]:
        source = self._source(matches)
        c = source.c
        key = self._sort_column(c)
        columns: list[ColumnElement[Any]] = [c.id, c.document, self._rank(c).label("score")]
        columns += [key.label("key"), *self._headlines(c)]
        statement = select(*columns)
        if source is self.table:
            statement = statement.where(self._where())
        if self.query.cursor:
            statement = statement.where(self._after(c, key))
        order = key.desc() if self.query.is_descending else key.asc()
        if self.query.sort is not SortKey.ID:
            statement = statement.order_by(order, c.id)
        else:
            statement = statement.order_by(c.id)
        return list(await session.execute(statement.limit(self.query.size)))

    def _headlines(self, c: Any) -> list[ColumnElement[Any]]:
        if self.tsquery is None or not self.query.highlight:
            return []
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

    async def facets(
        self, session: AsyncSession, matches: int
    ) -> tuple[dict[Facet, list[FacetCount]], bool]:
        """Every facet's top values, and whether the counts are exact. A facet's counts obey
        every filter but its own selection, so facets group by the selection they drop."""
        if self.query.facet_size == 0:
            return {}, True
        selected = self.query.selected()
        groups: dict[Facet | None, list[Facet]] = {}
        for facet in Facet:
            groups.setdefault(facet if facet in selected else None, []).append(facet)
        statements, exact = [], True
        for without, facets in groups.items():
            # Dropping a selection only adds matches: above the cap, every group is too.
            count = matches
            if without is not None and matches <= self.cap:
                count = await session.scalar(self.capped_count(without=without)) or 0
            sample = None
            if count > self.cap:
                percent = await self._sample_percent(session)
                sample = percent if percent < 100 else None
            exact = exact and sample is None
            statements.append(self._facet_counts(without, facets, sample))
        counts: dict[Facet, list[FacetCount]] = {facet: [] for facet in Facet}
        for facet, value, count in await session.execute(union_all(*statements)):
            counts[Facet(facet)].append(FacetCount(value=value, count=count))
        for values in counts.values():  # UNION ALL keeps no order; code points = "C" order
            values.sort(key=lambda c: (-c.count, c.value))
        return counts, exact

    async def _sample_percent(self, session: AsyncSession) -> float:
        """The share of the table's pages that holds about `sample_rows` rows (100: all)."""
        if self._percent is None:
            rows = await session.scalar(_RELTUPLES, {"table": self.table.name}) or 0
            self._percent = min(100.0, 100.0 * self.sample_rows / rows) if rows > 0 else 100.0
        return self._percent

    def _sampled(self, percent: float) -> FromClause:
        return self.table.tablesample(func.system(percent), seed=literal(SAMPLE_SEED))

    async def matches(self, session: AsyncSession) -> int:
        """The number of matches up to the cap + 1. A broad query is recognised from the
        sample (it would read many rows to reach the cap where the filters need the text or
        arrays of every row); anything near the cap is counted."""
        percent = await self._sample_percent(session)
        if percent < 100:
            sample = self._sampled(percent)
            counted = select(func.count()).select_from(sample).where(self._where(source=sample))
            estimate = (await session.scalar(counted) or 0) * 100 / percent
            if estimate > BROAD * self.cap:
                return self.cap + 1
        return await session.scalar(self.capped_count()) or 0

    def _facet_counts(
        self, without: Facet | None, facets: list[Facet], sample: float | None
    ) -> Select[Any]:
        """The top values of `facets`, which share the filters minus `without`'s selection,
        over the whole table or over a `sample` percent of its pages, scaled up."""
        source = self.table if sample is None else self._sampled(sample)
        columns = [source.c[facet.value] for facet in facets]
        matching = select(*columns).where(self._where(without=without, source=source)).cte()
        tops = union_all(*(self._top(matching, facet, sample) for facet in facets)).subquery()
        return select(tops.c.facet, tops.c.value, tops.c.n)

    def _top(self, matching: Any, facet: Facet, sample: float | None) -> Select[Any]:
        values = select(func.unnest(matching.c[facet.value]).label("value")).subquery()
        count = func.count()
        scaled = count if sample is None else func.round(count * (100.0 / sample))
        top = (
            select(literal(facet.value).label("facet"), values.c.value)
            .add_columns(scaled.cast(BigInteger).label("n"))
            .group_by(values.c.value)
            .order_by(count.desc(), values.c.value.collate("C"))
            .limit(self.query.facet_size)
            .subquery()
        )
        return select(top.c.facet, top.c.value, top.c.n)
