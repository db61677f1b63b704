"""How many SQL statements each request of the load mix makes (bench/bench_load.py's mix).

Pinned exactly, as Django's assertNumQueries does, so that one more query per request, or
one per row (an N+1: each case lists several rows), fails here deterministically. When a
change adds or removes one on purpose, update the number and say why in the commit.
Counted on the second of two identical requests: the steady state, caches warm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from conftest import auth, bearer
from factories import create_asset, create_dandiset, create_user
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from statements import counted

from dandelion_common.browser_sessions import start_session
from dandelion_common.settings import Settings

DANDISETS = 5
ASSETS = 3
DRAFT = "/api/dandisets/{id}/versions/draft/"


@dataclass(frozen=True)
class Case:
    method: str
    url: str
    statements: int
    body: dict[str, Any] | None = None
    signed: bool = False


CASES = {
    "info": Case("GET", "/api/info/", 0),
    "dandiset list": Case("GET", "/api/dandisets/", 1),
    "dandiset": Case("GET", "/api/dandisets/{id}/", 1),
    "versions": Case("GET", "/api/dandisets/{id}/versions/", 2),
    "draft": Case("GET", DRAFT, 1),
    "asset list": Case("GET", DRAFT + "assets/", 2),
    "folders": Case("GET", DRAFT + "assets/paths/", 2),
    "search": Case("GET", "/api/dandisets/?search=mouse", 1),
    "create": Case("POST", "/api/dandisets/", 7, {"name": "new", "metadata": {}}, signed=True),
    "draft PUT": Case(
        "PUT", DRAFT, 3, {"name": "renamed", "metadata": {"description": "d"}}, signed=True
    ),
}


@pytest.mark.parametrize("name", CASES)
async def test_statements_per_request(
    name: str, api_client: httpx.AsyncClient, session: AsyncSession, engine: AsyncEngine
) -> None:
    case = CASES[name]
    owner, key = await create_user(session)
    for n in range(DANDISETS):
        dandiset, draft = await create_dandiset(session, owner=owner, name=f"mouse {n}")
        for k in range(ASSETS):
            await create_asset(session, version=draft, path=f"sub-{k}/d{n}-f{k}.nwb")
    await session.commit()
    url = case.url.format(id=f"{dandiset.id:06}")
    headers = auth(key) if case.signed else {}
    for _ in range(2):
        with counted(engine) as statements:
            answer = await api_client.request(case.method, url, json=case.body, headers=headers)
        assert answer.status_code == 200, answer.text
    assert len(statements) == case.statements, f"{name}:\n{statements}"


@pytest.mark.parametrize("name", [name for name, case in CASES.items() if case.signed])
async def test_a_session_costs_what_an_api_key_costs(
    name: str,
    api_client: httpx.AsyncClient,
    session: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
) -> None:
    """One lookup either way, once `last_seen` is fresh (the first request may touch it)."""
    case = CASES[name]
    owner, _ = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner, name="mouse")
    token = await start_session(session, owner, settings=settings.auth)
    await session.commit()
    url = case.url.format(id=f"{dandiset.id:06}")
    for _ in range(2):
        with counted(engine) as statements:
            answer = await api_client.request(
                case.method, url, json=case.body, headers=bearer(token)
            )
        assert answer.status_code == 200, answer.text
    assert len(statements) == case.statements, f"{name}:\n{statements}"
