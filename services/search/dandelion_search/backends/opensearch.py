"""Search on OpenSearch: one index per kind behind an alias, rebuilt and swapped atomically.

Facet fields are keywords; a search puts visibility, text and ranges in `query`, every facet
selection in `post_filter`, and gives each facet a `filter` aggregation holding the other
facets' selections, so its counts ignore its own selection (the standard multi-select facet).
Facets that drop the same selection share one `filter` aggregation. On a large index the
counts come from a second request (same round trip, `msearch`) whose query keeps only a
uniform sample (documents whose fixed `sample` bucket is below k), so it visits about
`sample_rows` documents however many match, and are scaled up; a group estimated to match
at most the total cap is counted exactly by a third, small request.
The server we test against has no analysis-common module, so text is folded in Python (see
`folding`) and indexed with the standard analyser.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import NotFoundError, OpenSearchException

from dandelion_common.settings import OpenSearchSettings
from dandelion_common.web.resources import Probe
from dandelion_search.backends.base import (
    POST_TAG,
    PRE_TAG,
    SAMPLE_BUCKETS,
    SAMPLE_ROWS,
    decode_cursor,
    encode_cursor,
    sample_bucket,
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

KEYWORD = {"type": "keyword"}
TEXT = {"type": "text", "analyzer": "standard"}
MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": KEYWORD,
        "dandiset_id": {"type": "integer"},
        "embargoed": {"type": "boolean"},
        "title": TEXT,
        "description": TEXT,
        "title_text": TEXT,
        "body_text": TEXT,
        "sort_name": KEYWORD,
        "size": {"type": "long"},
        "modified": {"type": "date"},
        **{facet.value: KEYWORD for facet in Facet},
        "age_days_min": {"type": "double"},
        "age_days_max": {"type": "double"},
        "electrode_count_min": {"type": "integer"},
        "electrode_count_max": {"type": "integer"},
        "sample": {"type": "integer"},  # see `sample_bucket`
        # Returned to callers as is, never searched.
        "document": {"type": "object", "enabled": False},
    },
}
# One shard keeps terms aggregation counts exact; a replica wherever a second node exists.
SETTINGS: dict[str, Any] = {"number_of_shards": 1, "auto_expand_replicas": "0-1"}
SCAN_PAGE = 1000
DOC_COUNT_TTL_S = 60.0  # how long an index's size is trusted for choosing the sample


def _source(row: IndexRow) -> dict[str, Any]:
    return {
        **row.model_dump(mode="json", exclude={"facets", "ranges"}),
        **{facet.value: row.facets.get(facet, []) for facet in Facet},
        **row.ranges,
        "sample": sample_bucket(row.id),
    }


@asynccontextmanager
async def _answering() -> AsyncIterator[None]:
    """Engine failures become the search core's one error type."""
    try:
        yield
    except OpenSearchException as exc:
        raise SearchUnavailable(f"OpenSearch: {exc}") from exc


class OpenSearchBackend:
    def __init__(
        self,
        client: Any,
        *,
        prefix: str,
        refresh: bool = False,
        total_cap: int = TOTAL_CAP,
        sample_rows: int = SAMPLE_ROWS,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.total_cap, self.sample_rows = total_cap, sample_rows
        self._doc_counts: dict[Kind, tuple[float, int]] = {}
        # Tests see each write at once; production relies on the 1 s refresh interval.
        self.refresh = refresh

    @classmethod
    def connect(cls, settings: OpenSearchSettings, *, refresh: bool = False) -> OpenSearchBackend:
        assert settings.url is not None
        client = AsyncOpenSearch(hosts=[settings.url], timeout=30)
        return cls(client, prefix=settings.index_prefix, refresh=refresh)

    def alias(self, kind: Kind) -> str:
        return f"{self.prefix}-{kind.value}"

    async def _create_index(self, kind: Kind, *, live: bool) -> str:
        name = f"{self.alias(kind)}-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
        body: dict[str, Any] = {"settings": SETTINGS, "mappings": MAPPING}
        if live:
            body["aliases"] = {self.alias(kind): {}}
        else:  # a bulk load does not need near-real-time refreshes
            body["settings"] = {**SETTINGS, "refresh_interval": "-1"}
        async with _answering():
            await self.client.indices.create(index=name, body=body)
        return name

    async def ensure_schema(self) -> None:
        for kind in Kind:
            async with _answering():
                exists = await self.client.indices.exists_alias(name=self.alias(kind))
                if exists:  # fields added since the index was made (adding is allowed)
                    sample = {"sample": MAPPING["properties"]["sample"]}
                    await self.client.indices.put_mapping(
                        index=self.alias(kind), body={"properties": sample}
                    )
            if not exists:
                await self._create_index(kind, live=True)

    async def _bulk(self, actions: list[dict[str, Any]]) -> None:
        if not actions:
            return
        params = {"refresh": "true"} if self.refresh else {}
        async with _answering():
            response = await self.client.bulk(body=actions, params=params)
        if response["errors"]:
            failed = [
                item for entry in response["items"] for op, item in entry.items()
                if item.get("error") and not (op == "delete" and item["status"] == 404)
            ]  # fmt: skip
            if failed:
                raise SearchUnavailable(f"OpenSearch refused {len(failed)}: {failed[0]['error']}")

    async def bulk_upsert(
        self, kind: Kind, rows: Sequence[IndexRow], *, target: str | None = None
    ) -> None:
        index = target or self.alias(kind)
        actions: list[dict[str, Any]] = []
        for row in rows:
            actions += [{"index": {"_index": index, "_id": row.id}}, _source(row)]
        await self._bulk(actions)

    async def bulk_delete(
        self, kind: Kind, ids: Sequence[str], *, target: str | None = None
    ) -> None:
        index = target or self.alias(kind)
        await self._bulk([{"delete": {"_index": index, "_id": doc_id}} for doc_id in ids])

    async def delete_dandisets(
        self, kind: Kind, dandiset_ids: Sequence[int], *, target: str | None = None
    ) -> None:
        """Search-and-delete (the server has no delete_by_query module); after a refresh, so
        documents written in the last second are found too."""
        index = target or self.alias(kind)
        async with _answering():
            await self.client.indices.refresh(index=index)
        body: dict[str, Any] = {
            "size": SCAN_PAGE,
            "_source": False,
            "query": {"terms": {"dandiset_id": list(dandiset_ids)}},
            "sort": [{"id": "asc"}],
        }
        while True:
            async with _answering():
                response = await self.client.search(index=index, body=body)
            hits = response["hits"]["hits"]
            await self.bulk_delete(kind, [hit["_id"] for hit in hits], target=target)
            if len(hits) < SCAN_PAGE:
                return
            body["search_after"] = hits[-1]["sort"]

    async def search(self, query: SearchQuery, visibility: Visibility) -> SearchResult:
        index = self.alias(query.kind)
        sample = await self._sample_below(query.kind) if query.facet_size else None
        body = search_body(query, visibility, total_cap=self.total_cap, sample=sample)
        requests: list[dict[str, Any]] = [{"index": index}, body]
        if sample is not None:  # the facets over the sample only, in the same round trip
            requests += [{"index": index}, _facet_body(query, visibility, sample=sample)]
        response, *sampled = await self._msearch(requests)
        facets, estimated = _facets(query, response.get("aggregations", {}))
        small: list[str] = []
        if sampled:
            scale = SAMPLE_BUCKETS / sample if sample else 1.0
            facets, small = _scaled(query, sampled[0]["aggregations"], scale, self.total_cap)
            estimated = len(small) < len(_groups(query))
        if small:  # groups matching few documents: count those exactly
            exact_body = _facet_body(query, visibility, only=small)
            (exact,) = await self._msearch([{"index": index}, exact_body])
            facets.update(_facets(query, exact["aggregations"])[0])
        hits = response["hits"]["hits"]
        next_cursor = None
        if hits and len(hits) == query.size:
            next_cursor = encode_cursor(hits[-1]["sort"])
        total = response["hits"]["total"]
        return SearchResult(
            total=total["value"],
            total_exact=total["relation"] == "eq",
            hits=[_hit(query, hit) for hit in hits],
            facets=facets,
            facets_exact=not estimated,
            next_cursor=next_cursor,
        )

    async def _msearch(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        async with _answering():
            answer = await self.client.msearch(body=requests)
        responses: list[dict[str, Any]] = answer["responses"]
        for response in responses:
            if "error" in response:
                raise SearchUnavailable(f"OpenSearch: {response['error']}")
        return responses

    async def _sample_below(self, kind: Kind) -> int | None:
        """The bucket bound k of a sample of about `sample_rows` documents; None when the
        index is small enough to count exactly."""
        checked, documents = self._doc_counts.get(kind, (0.0, 0))
        if time.monotonic() - checked > DOC_COUNT_TTL_S:
            async with _answering():
                documents = (await self.client.count(index=self.alias(kind)))["count"]
            self._doc_counts[kind] = (time.monotonic(), documents)
        if documents <= self.sample_rows:
            return None
        return max(1, round(SAMPLE_BUCKETS * self.sample_rows / documents))

    # --- rebuild: a new index, loaded with refreshes off, then an atomic alias swap -------

    async def begin_rebuild(self, kind: Kind) -> str:
        return await self._create_index(kind, live=False)

    async def finish_rebuild(self, kind: Kind, target: str) -> None:
        alias = self.alias(kind)
        async with _answering():
            await self.client.indices.put_settings(
                index=target, body={"index": {"refresh_interval": None}}
            )
            await self.client.indices.refresh(index=target)
            try:
                old = list(await self.client.indices.get_alias(name=alias))
            except NotFoundError:
                old = []
            actions: list[dict[str, Any]] = [{"remove": {"index": i, "alias": alias}} for i in old]
            actions.append({"add": {"index": target, "alias": alias}})
            await self.client.indices.update_aliases(body={"actions": actions})
            for index in old:
                await self.client.indices.delete(index=index, params={"ignore_unavailable": "true"})

    async def abort_rebuild(self, kind: Kind, target: str) -> None:
        async with _answering():
            await self.client.indices.delete(index=target, params={"ignore_unavailable": "true"})

    async def drop(self) -> None:
        """Delete every index of this prefix (tests)."""
        async with _answering():
            await self.client.indices.delete(
                index=f"{self.prefix}-*", params={"ignore_unavailable": "true"}
            )

    async def ping(self) -> None:
        async with _answering():
            await self.client.info()

    def readiness(self) -> Mapping[str, Probe]:
        return {"opensearch": self.ping}

    async def close(self) -> None:
        await self.client.close()


# --- query building (plain dicts, so a test can read the exact request) --------------------


def _visibility(visibility: Visibility) -> list[dict[str, Any]]:
    if visibility.admin:
        return []
    should: list[dict[str, Any]] = [{"term": {"embargoed": False}}]
    if visibility.owned_dandisets:
        should.append({"terms": {"dandiset_id": sorted(visibility.owned_dandisets)}})
    return [{"bool": {"should": should, "minimum_should_match": 1}}]


def _ranges(query: SearchQuery) -> list[dict[str, Any]]:
    filters = []
    for field, bounds in query.ranges.items():
        low, high = field.bounds
        if bounds.gte is not None:
            filters.append({"range": {high: {"gte": bounds.gte}}})
        if bounds.lte is not None:
            filters.append({"range": {low: {"lte": bounds.lte}}})
    return filters


def _text(query: SearchQuery) -> dict[str, Any]:
    words = fold([query.text])
    if not words:
        return {"match_all": {}}
    # cross_fields + and: every word must be in the title or the body (DANDI's all-words rule).
    return {
        "multi_match": {
            "query": words,
            "type": "cross_fields",
            "fields": ["title_text^3", "body_text"],
            "operator": "and",
        }
    }


def _facet_filters(query: SearchQuery, *, without: Facet | None = None) -> list[dict[str, Any]]:
    return [
        {"terms": {facet.value: sorted(values)}}
        for facet, values in query.selected().items()
        if facet is not without
    ]


def _sort(query: SearchQuery) -> list[dict[str, Any]]:
    if query.sort is SortKey.ID:
        return [{"id": "asc"}]
    order = "desc" if query.is_descending else "asc"
    key = "_score" if query.sort is SortKey.RELEVANCE else query.sort.field
    return [{key: order}, {"id": "asc"}]


def _groups(query: SearchQuery) -> dict[str, tuple[Facet | None, list[Facet]]]:
    """Facets grouped by the selection their counts drop, named for their aggregation."""
    selected = query.selected()
    groups: dict[str, tuple[Facet | None, list[Facet]]] = {}
    for facet in Facet:
        without = facet if facet in selected else None
        name = f"without_{facet.value}" if without else "all"
        groups.setdefault(name, (without, []))[1].append(facet)
    return groups


def _aggregations(query: SearchQuery, *, only: Sequence[str] | None = None) -> dict[str, Any]:
    terms = {"size": query.facet_size, "order": [{"_count": "desc"}, {"_key": "asc"}]}
    aggregations: dict[str, Any] = {}
    for name, (without, facets) in _groups(query).items():
        if only is not None and name not in only:
            continue
        aggregations[name] = {
            "filter": {"bool": {"filter": _facet_filters(query, without=without)}},
            "aggs": {f.value: {"terms": {"field": f.value, **terms}} for f in facets},
        }
    return aggregations


def _facet_body(
    query: SearchQuery,
    visibility: Visibility,
    *,
    sample: int | None = None,
    only: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Facet counts alone: over the documents whose bucket is below `sample` (the query
    then visits only those), or exactly over every match for the groups in `only`."""
    filters = [*_visibility(visibility), *_ranges(query)]
    if sample is not None:
        filters.append({"range": {"sample": {"lt": sample}}})
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"bool": {"must": [_text(query)], "filter": filters}},
        "aggs": _aggregations(query, only=only),
    }


def _highlight(query: SearchQuery) -> dict[str, Any]:
    return {
        "pre_tags": [PRE_TAG],
        "post_tags": [POST_TAG],
        "fields": {
            "title": {"number_of_fragments": 0},
            "description": {"fragment_size": 150, "number_of_fragments": 1},
        },
        # The stored title is not folded: highlight the words as typed (an accent typed
        # differently still finds the document, but is not highlighted).
        "highlight_query": {
            "multi_match": {"query": query.text, "fields": ["title", "description"]}
        },
    }


def search_body(
    query: SearchQuery,
    visibility: Visibility,
    *,
    total_cap: int = TOTAL_CAP,
    sample: int | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "size": query.size,
        "track_total_hits": total_cap,
        "_source": ["document"],
        "query": {
            "bool": {
                "must": [_text(query)],
                "filter": [*_visibility(visibility), *_ranges(query)],
            }
        },
        "post_filter": {"bool": {"filter": _facet_filters(query)}},
        "sort": _sort(query),
    }
    if query.facet_size and sample is None:  # sampled facets are a request of their own
        body["aggs"] = _aggregations(query)
    if query.highlight and fold([query.text]):
        body["highlight"] = _highlight(query)
    if query.cursor:
        body["search_after"] = _search_after(query.cursor, query.sort, len(body["sort"]))
    return body


def _search_after(cursor: str, sort: SortKey, length: int) -> list[Any]:
    """The cursor's sort values, checked: OpenSearch refuses mistyped ones with an error
    that would otherwise look like an engine failure."""
    *keys, last_id = decode_cursor(cursor, length)
    textual = sort is SortKey.NAME  # the keyword sort_name; _score, size and dates are numbers
    typed = all(
        isinstance(v, str) if textual else isinstance(v, int | float) and not isinstance(v, bool)
        for v in keys
    )
    if not typed or not isinstance(last_id, str):
        raise InvalidCursor()
    return [*keys, last_id]


def _hit(query: SearchQuery, hit: dict[str, Any]) -> Hit:
    title = "name" if query.kind is Kind.DANDISETS else "path"
    names = {"title": title, "description": "description"}
    highlights = {names[field]: list(parts) for field, parts in hit.get("highlight", {}).items()}
    score = hit.get("_score") if query.sort is SortKey.RELEVANCE else None
    return Hit(
        id=hit["_id"], score=score, document=hit["_source"]["document"], highlights=highlights
    )


def _facets(
    query: SearchQuery, aggregations: dict[str, Any]
) -> tuple[dict[Facet, list[FacetCount]], bool]:
    """Exact facet counts (and False: nothing estimated)."""
    facets: dict[Facet, list[FacetCount]] = {}
    for name, (_, members) in _groups(query).items():
        if name in aggregations:
            for facet in members:
                buckets = aggregations[name][facet.value]["buckets"]
                facets[facet] = [FacetCount(value=b["key"], count=b["doc_count"]) for b in buckets]
    return facets, False


def _scaled(
    query: SearchQuery, aggregations: dict[str, Any], scale: float, total_cap: int
) -> tuple[dict[Facet, list[FacetCount]], list[str]]:
    """Sampled counts scaled up, and the groups estimated to match no more than the cap,
    which are counted exactly instead."""
    facets: dict[Facet, list[FacetCount]] = {}
    small: list[str] = []
    for name, (_, members) in _groups(query).items():
        group = aggregations[name]
        if group["doc_count"] * scale <= total_cap:
            small.append(name)
            continue
        for facet in members:
            facets[facet] = [
                FacetCount(value=b["key"], count=round(b["doc_count"] * scale))
                for b in group[facet.value]["buckets"]
            ]
    return facets, small
