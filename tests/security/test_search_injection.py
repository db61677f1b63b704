"""Search syntax injection: SQL, LIKE, JSON-path and tsquery metacharacters, quotes,
backslashes, NUL and very long input in `?search=` (the DANDI API) and `?q=` (the search
API) answer 200 or a 400 naming the parameter, never a 5xx, and never match what they
should not.

Two canary dandisets hold nothing but letters and spaces in their metadata, so a payload of
metacharacters, or one carrying a word no canary holds, must not find them; had any payload
escaped its quoting (`' OR '1'='1`), the canaries would come back. Plain words find them,
so the check can fail.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest
from conftest import serve
from factories import create_dandiset, create_user
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import OutboxEntity
from dandelion_common.db.session import Database
from dandelion_common.outbox import emit
from dandelion_search.api.resources import SearchResources
from dandelion_search.backends.postgres import PostgresSearchBackend
from dandelion_search.indexer import drain

ABSENT = "zqxj"  # in no canary
# Metacharacters only: none occurs in a canary's metadata text.
BARE = [
    "%",
    "%%",
    "_",
    "*",
    "\\",
    "\\\\",
    "'",
    "''",
    "$.**",
    "$[*]",
    "[*]",
    ";",
    "--",
    "/*",
    "%" * 1024,
]
# Injections carrying a word no canary holds: matching a canary means the payload broke out.
CARRIED = [
    f"{ABSENT}' OR '1'='1",
    f"{ABSENT}' OR 1=1 --",
    f'{ABSENT}" OR ""="',
    f"{ABSENT}'); DROP TABLE dandisets; --",
    f"{ABSENT}%",
    f"%{ABSENT}%",
    f"{ABSENT}_",
    f"{ABSENT}\\",
    f"{ABSENT}\\'",
    f"{ABSENT} | hippocampus",
    f"hippocampus | {ABSENT}",
    f"!{ABSENT}",
    f"{ABSENT}:*",
    f"{ABSENT} <-> cortex",
    f"{ABSENT} & (cortex | hippocampus)",
    f"owner:{ABSENT}' OR 'a'='a",
    f'species:"{ABSENT}%"',
    f"approach:{ABSENT}$.**",
    f"file_type:{ABSENT}%",
]
# Refused outright: 400 naming the parameter.
REFUSED = ["a\x00b", "x" * 60_000, f'"{ABSENT}']  # (httpx caps a URL at 64 KiB)
CANARIES = {"Canary hippocampus recordings": "hippocampus", "Sentinel cortex imaging": "cortex"}


@dataclasses.dataclass
class Canaries:
    ids: dict[str, str]  # identifier by the word that finds it


@pytest.fixture
async def canaries(session: AsyncSession, db: Database) -> Canaries:
    owner, _ = await create_user(session)
    ids = {}
    for name, word in CANARIES.items():
        dandiset, draft = await create_dandiset(session, owner=owner, name=name)
        draft.metadata_ = {"name": name, "description": f"About {word} only"}
        emit(session, OutboxEntity.DANDISET, dandiset.id)
        ids[word] = f"{dandiset.id:06}"
    await session.commit()
    await drain(db, PostgresSearchBackend(db))  # what the search worker does
    return Canaries(ids)


@pytest.fixture
async def search_client(
    search_resources: SearchResources,
) -> AsyncIterator[httpx.AsyncClient]:
    from dandelion_search.app import create_app

    async with serve(create_app(search_resources.settings), search_resources) as http:
        yield http


API_ROUTES = ["/api/dandisets/", "/api/dandisets/search/"]


def found(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    return {hit["identifier"] for hit in results}


async def api_search(client: httpx.AsyncClient, route: str, payload: str) -> httpx.Response:
    # `/dandisets/search/` lists dandisets with a matching asset; empty=true keeps the
    # canaries (which have none) in `/dandisets/`.
    return await client.get(route, params={"search": payload, "empty": "true"})


async def test_plain_words_find_the_canaries(client: httpx.AsyncClient, canaries: Canaries) -> None:
    # (`/dandisets/search/` lists only dandisets with a matching asset: the canaries have none.)
    for word, identifier in canaries.ids.items():
        assert found(await api_search(client, "/api/dandisets/", word)) == {identifier}


@pytest.mark.parametrize("payload", BARE + CARRIED, ids=repr)
@pytest.mark.parametrize("route", API_ROUTES)
async def test_injections_in_search_match_no_canary(
    client: httpx.AsyncClient, canaries: Canaries, route: str, payload: str
) -> None:
    response = await api_search(client, route, payload)
    if response.status_code == 400:
        assert "search" in response.json(), response.text
        return
    assert not found(response) & set(canaries.ids.values()), payload


@pytest.mark.parametrize("payload", REFUSED, ids=lambda p: repr(p[:20]))
@pytest.mark.parametrize("route", API_ROUTES)
async def test_nul_overlong_and_unbalanced_searches_are_a_400_on_search(
    client: httpx.AsyncClient, canaries: Canaries, route: str, payload: str
) -> None:
    response = await api_search(client, route, payload)
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"search"}


async def test_search_api_words_find_the_canaries(
    search_client: httpx.AsyncClient, canaries: Canaries
) -> None:
    for word, identifier in canaries.ids.items():
        response = await search_client.get("/api/search/dandisets/", params={"q": word})
        assert found(response) == {identifier}


@pytest.mark.parametrize("payload", [*CARRIED, *REFUSED], ids=lambda p: repr(p[:40]))
@pytest.mark.parametrize("kind", ["dandisets", "assets"])
async def test_search_api_injections_match_nothing(
    search_client: httpx.AsyncClient, canaries: Canaries, kind: str, payload: str
) -> None:
    # Metacharacters alone leave no word, which the search API treats as no text filter
    # (like an empty `q`), so each payload here carries a word no canary holds.
    response = await search_client.get(f"/api/search/{kind}/", params={"q": payload})
    if response.status_code == 400:
        assert "q" in response.json(), response.text
        return
    assert response.status_code == 200, response.text
    assert response.json()["results"] == [], payload


def test_canaries_hold_only_letters_and_spaces() -> None:
    """What makes the BARE payloads unable to match legitimately."""
    for name, word in CANARIES.items():
        assert all(c.isalpha() or c == " " for c in name + f"About {word} only")
    assert not any(ABSENT in name.lower() for name in CANARIES)
