"""Smoke tests against a real OpenSearch server (see scripts/opensearch.sh).

They prove that the server the test suite talks to is a working OpenSearch 2.x and that the
async client stack (opensearch-py's AsyncOpenSearch over aiohttp) can create an index with an
explicit mapping, bulk-load it, query it and delete it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from opensearchpy import AsyncOpenSearch
from opensearchpy.helpers import async_bulk

INDEX_BODY: dict[str, Any] = {
    "settings": {"number_of_shards": 1, "number_of_replicas": 0},
    "mappings": {
        "dynamic": "strict",
        "properties": {
            "species": {"type": "keyword"},
            "name": {"type": "text"},
            "electrodes": {"type": "integer"},
        },
    },
}

DOCS: dict[str, dict[str, Any]] = {
    "1": {"species": "Mus musculus", "name": "Mouse visual cortex probe", "electrodes": 384},
    "2": {"species": "Mus musculus", "name": "Mouse hippocampus tetrodes", "electrodes": 16},
    "3": {"species": "Rattus norvegicus", "name": "Rat hippocampus probe", "electrodes": 64},
    "4": {"species": "Macaca mulatta", "name": "Macaque motor cortex array", "electrodes": 96},
    "5": {"species": "Mus musculus", "name": "Mouse striatum probe", "electrodes": 384},
}


@pytest_asyncio.fixture
async def client(opensearch_url: str) -> AsyncIterator[AsyncOpenSearch]:
    """Yield an async client for the test server, closed after the test."""
    os_client = AsyncOpenSearch(hosts=[opensearch_url], timeout=30)
    try:
        yield os_client
    finally:
        await os_client.close()


@pytest_asyncio.fixture
async def index(client: AsyncOpenSearch) -> AsyncIterator[str]:
    """Yield a uniquely named index holding DOCS (refreshed), deleted after the test."""
    name = f"dandelion-smoke-{uuid.uuid4().hex}"
    await client.indices.create(index=name, body=INDEX_BODY)
    try:
        actions = [{"_index": name, "_id": doc_id, "_source": doc} for doc_id, doc in DOCS.items()]
        indexed, errors = await async_bulk(client, actions, refresh="true")
        assert (indexed, errors) == (len(DOCS), [])
        yield name
    finally:
        await client.indices.delete(index=name, params={"ignore_unavailable": "true"})
        assert not await client.indices.exists(index=name)


async def search(client: AsyncOpenSearch, index: str, body: dict[str, Any]) -> dict[str, Any]:
    """Run a search and return the decoded response."""
    response: dict[str, Any] = await client.search(index=index, body=body)
    return response


def hit_ids(response: dict[str, Any]) -> set[str]:
    """Return the ids of the hits of a search response."""
    return {hit["_id"] for hit in response["hits"]["hits"]}


def buckets(response: dict[str, Any], name: str) -> list[tuple[str, int]]:
    """Return (key, doc_count) of each bucket of the named aggregation, in order."""
    return [(b["key"], b["doc_count"]) for b in response["aggregations"][name]["buckets"]]


async def test_server_is_opensearch_2(client: AsyncOpenSearch) -> None:
    """The test server is OpenSearch (not Elasticsearch) of the 2.x line."""
    info = await client.info()
    assert info["version"]["distribution"] == "opensearch"
    assert info["version"]["number"].startswith("2.")


async def test_match_query_with_terms_aggregation(client: AsyncOpenSearch, index: str) -> None:
    """A full-text match and a terms aggregation over the keyword field give exact results."""
    response = await search(
        client,
        index,
        {
            "query": {"match": {"name": "probe"}},
            "aggs": {"species": {"terms": {"field": "species"}}},
        },
    )
    assert response["hits"]["total"] == {"value": 3, "relation": "eq"}
    assert hit_ids(response) == {"1", "3", "5"}
    assert buckets(response, "species") == [("Mus musculus", 2), ("Rattus norvegicus", 1)]


async def test_terms_aggregation_over_all_documents(client: AsyncOpenSearch, index: str) -> None:
    """Buckets are ordered by count then key, and a sub-aggregation sums per bucket."""
    response = await search(
        client,
        index,
        {
            "size": 0,
            "aggs": {
                "species": {
                    "terms": {"field": "species"},
                    "aggs": {"electrodes": {"sum": {"field": "electrodes"}}},
                }
            },
        },
    )
    assert response["hits"]["total"]["value"] == len(DOCS)
    assert buckets(response, "species") == [
        ("Mus musculus", 3),
        ("Macaca mulatta", 1),
        ("Rattus norvegicus", 1),
    ]
    sums = {
        b["key"]: b["electrodes"]["value"] for b in response["aggregations"]["species"]["buckets"]
    }
    assert sums == {"Mus musculus": 784.0, "Macaca mulatta": 96.0, "Rattus norvegicus": 64.0}


async def test_keyword_field_is_not_analyzed(client: AsyncOpenSearch, index: str) -> None:
    """The explicit mapping is in force: keyword terms match whole values only, text is analyzed."""
    exact = await search(client, index, {"query": {"term": {"species": "Mus musculus"}}})
    partial = await search(client, index, {"query": {"term": {"species": "mus"}}})
    analyzed = await search(client, index, {"query": {"match": {"name": "HIPPOCAMPUS"}}})
    assert hit_ids(exact) == {"1", "2", "5"}
    assert hit_ids(partial) == set()
    assert hit_ids(analyzed) == {"2", "3"}
