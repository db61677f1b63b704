"""The search API over HTTP, on both backends (`backend` is parametrised in the conftest)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import auth, serve
from httpx import AsyncClient
from search.corpus import Corpus

from dandelion_common.db.models import User
from dandelion_common.settings import Settings
from dandelion_search.api.resources import SearchResources
from dandelion_search.backends import SearchBackend
from dandelion_search.backends.base import encode_cursor
from dandelion_search.backends.postgres import PostgresSearchBackend

ASSETS, DANDISETS = "/api/search/assets/", "/api/search/dandisets/"
A1, A2, A3, A4 = (f"sub-0{i}/sub-0{i}_{k}.nwb" for i, k in
                  ((1, "ecephys"), (2, "ecephys"), (3, "icephys"), (4, "ophys")))  # fmt: skip
OPEN_NAMES = {"Buzsáki hippocampus recordings", "Slice physiology in cortex"}
SECRET = "Secret imaging study"


@pytest.fixture
async def client(
    search_resources: SearchResources, backend: SearchBackend
) -> AsyncIterator[AsyncClient]:
    from dandelion_search.app import create_app

    with_engine = dataclasses.replace(search_resources, search=backend)
    async with serve(create_app(search_resources.settings), with_engine) as http:
        yield http


async def get(
    client: AsyncClient, url: str, user: tuple[Corpus, User] | None = None, **params: Any
) -> Any:
    headers = auth(user[0].key_of(user[1])) if user else {}
    response = await client.get(url, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def paths(page: dict[str, Any]) -> set[str]:
    return {hit["path"] for hit in page["results"]}


def names(page: dict[str, Any]) -> set[str]:
    return {hit["name"] for hit in page["results"]}


def counts(page: dict[str, Any], facet: str) -> dict[str, int]:
    return {c["value"]: c["count"] for c in page["facets"][facet]}


async def test_repeated_params_select_several_values(client: AsyncClient, corpus: Corpus) -> None:
    mice = await get(client, ASSETS, species="Mus musculus")
    both = await get(client, ASSETS, species=["Mus musculus", "Rattus norvegicus"])
    assert (paths(mice), mice["count"]) == ({A2, A3}, 2)
    assert paths(both) == {A1, A2, A3}


async def test_facet_counts_ignore_their_own_selection(client: AsyncClient, corpus: Corpus) -> None:
    page = await get(client, ASSETS, species="Mus musculus")
    assert counts(page, "species") == {"Mus musculus": 2, "Rattus norvegicus": 1}
    assert counts(page, "sex") == {"F": 2}
    assert counts(page, "region") == {"VISp": 1}


async def test_facets_and_ranges_combine(client: AsyncClient, corpus: Corpus) -> None:
    assert paths(await get(client, ASSETS, electrodes_min=100)) == {A2}
    assert paths(await get(client, ASSETS, age_min_days=50, age_max_days=100)) == {A1, A2}
    assert paths(await get(client, ASSETS, region="CA1", neurodata_type="Units")) == {A1}
    found = await get(client, DANDISETS, technique="patch clamp technique")
    assert names(found) == {"Slice physiology in cortex"}


async def test_embargoed_content_only_for_owners_and_admins(
    client: AsyncClient, corpus: Corpus
) -> None:
    anonymous = await get(client, DANDISETS)
    stranger = await get(client, DANDISETS, (corpus, corpus.stranger))
    owner = await get(client, DANDISETS, (corpus, corpus.owner))
    admin = await get(client, DANDISETS, (corpus, corpus.admin))
    assert names(anonymous) == names(stranger) == OPEN_NAMES
    assert names(owner) == names(admin) == OPEN_NAMES | {SECRET}
    assert A4 not in paths(await get(client, ASSETS, q="ophys"))
    assert paths(await get(client, ASSETS, (corpus, corpus.owner), q="ophys")) == {A4}
    # Facet counts never leak what the caller cannot see.
    assert counts(anonymous, "species") == {"Mus musculus": 2, "Rattus norvegicus": 1}


async def test_an_unknown_key_is_refused(client: AsyncClient, corpus: Corpus) -> None:
    response = await client.get(ASSETS, headers=auth("0" * 40))
    assert (response.status_code, response.json()) == (401, {"detail": "Invalid token."})


async def test_asset_hits_carry_their_download_url(
    client: AsyncClient, corpus: Corpus, settings: Settings
) -> None:
    (hit,) = (await get(client, ASSETS, q="sub 01"))["results"]
    asset = corpus.assets["a1"]
    assert hit["download_url"] == f"{settings.api.api_url}/assets/{asset.id}/download/"
    assert (hit["path"], hit["dandiset_id"], hit["version"]) == (A1, f"{corpus.d1.id:06}", "draft")


async def test_dandiset_hits_are_highlighted(client: AsyncClient, corpus: Corpus) -> None:
    (hit,) = (await get(client, DANDISETS, q="hippocampus"))["results"]
    assert hit["identifier"] == f"{corpus.d1.id:06}"
    assert hit["url"].endswith(f"/api/dandisets/{corpus.d1.id:06}/")
    assert hit["highlights"]["name"] == ["Buzsáki <mark>hippocampus</mark> recordings"]
    assert hit["score"] > 0


@pytest.mark.parametrize("sort", ["path", "-size", "modified", "relevance"])
async def test_cursor_pages_cover_every_hit_once(
    client: AsyncClient, corpus: Corpus, sort: str
) -> None:
    seen: list[str] = []
    page = await get(client, ASSETS, (corpus, corpus.admin), sort=sort, page_size=1)
    while True:
        seen += [hit["path"] for hit in page["results"]]
        if page["next"] is None:
            break
        assert f"cursor={page['cursor']}" in page["next"]
        page = (await client.get(page["next"], headers=auth(corpus.key_of(corpus.admin)))).json()
    assert sorted(seen) == [A1, A2, A3, A4]
    if sort == "path":
        assert seen == [A1, A2, A3, A4]


async def test_a_cursor_is_bound_to_its_sort(client: AsyncClient, corpus: Corpus) -> None:
    cursor = (await get(client, ASSETS, sort="path", page_size=1))["cursor"]
    response = await client.get(ASSETS, params={"sort": "-size", "cursor": cursor})
    assert (response.status_code, response.json()) == (400, {"cursor": ["Invalid cursor."]})


def _wrapped(sort: str, *values: Any) -> str:
    """A public cursor for `sort` around backend sort values."""
    return encode_cursor([f"assets:{sort}", encode_cursor(list(values))])


FORGED = [
    ("path", "not a cursor"),
    ("path", encode_cursor(["assets:path", None])),
    ("path", _wrapped("path", 1, 2)),
    ("-size", _wrapped("-size", "big", "x")),
    ("modified", _wrapped("modified", "yesterday", "x")),
    ("modified", _wrapped("modified", {"a": 1}, "x")),
]


@pytest.mark.parametrize(("sort", "cursor"), FORGED)
async def test_a_forged_cursor_is_a_field_error(
    client: AsyncClient, corpus: Corpus, sort: str, cursor: str
) -> None:
    response = await client.get(ASSETS, params={"sort": sort, "cursor": cursor})
    assert (response.status_code, response.json()) == (400, {"cursor": ["Invalid cursor."]})


BAD_PARAMS = [
    ({"page_size": 0}, "page_size"),
    ({"page_size": 101}, "page_size"),
    ({"age_min_days": -1}, "age_min_days"),
    ({"size_min": "big"}, "size_min"),
    ({"sort": "bogus"}, "sort"),
    ({"sort": "-relevance"}, "sort"),
    ({"specie": "Mus musculus"}, "specie"),
    ({"q": "x" * 1025}, "q"),
    ({"age_min_days": 10, "age_max_days": 5}, "age_max_days"),
    ({"electrodes_min": 10, "electrodes_max": 5}, "electrodes_max"),
]


@pytest.mark.parametrize(("params", "field"), BAD_PARAMS)
async def test_bad_params_are_field_errors(
    client: AsyncClient, corpus: Corpus, params: dict[str, Any], field: str
) -> None:
    response = await client.get(ASSETS, params=params)
    assert response.status_code == 400, response.text
    assert list(response.json()) == [field]


async def test_dandisets_have_their_own_sorts(client: AsyncClient, corpus: Corpus) -> None:
    page = await get(client, DANDISETS, sort="-name")
    assert [hit["name"] for hit in page["results"]] == sorted(OPEN_NAMES, reverse=True)
    assert (await client.get(DANDISETS, params={"sort": "path"})).status_code == 400


async def test_the_openapi_schema_documents_params_and_examples(
    search_resources: SearchResources,
) -> None:
    from dandelion_search.app import create_app

    async with serve(create_app(search_resources.settings), search_resources) as http:
        schema = (await http.get("/api/search/docs/openapi.json")).json()
    assets = schema["paths"][ASSETS]["get"]
    params = {p["name"]: p for p in assets["parameters"]}
    assert {"q", "species", "region", "age_min_days", "cursor", "page_size", "sort"} <= set(params)
    assert params["species"]["schema"]["type"] == "array"
    assert params["q"]["schema"]["examples"]
    example = assets["responses"]["200"]["content"]["application/json"]["example"]
    assert example["results"][0]["download_url"].endswith("/download/")


async def test_the_lifespan_builds_the_backend(settings: Settings) -> None:
    from dandelion_search.app import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert isinstance(app.state.resources.search, PostgresSearchBackend)


@pytest.mark.parametrize("path", [ASSETS, DANDISETS, "/healthz", "/readyz"])
async def test_head_answers_as_get(client: AsyncClient, corpus: Corpus, path: str) -> None:
    get, head = await client.get(path), await client.head(path)
    assert (head.status_code, head.headers) == (get.status_code, get.headers)
    assert head.content == b""
