"""`?search=` on the dandiset list finds what DANDI finds, the moment it is written, at a
fixed number of statements per request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from conftest import auth
from factories import create_dandiset, create_user
from sqlalchemy import event, literal, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from dandelion_common.db.enums import VersionStatus
from dandelion_common.db.models import Version

LIST = "/api/dandisets/"
# The transaction's own bookkeeping (the request's commit point releases its savepoint).
SAVEPOINTS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


async def _found(client: httpx.AsyncClient, search: str, **params: str) -> list[str]:
    response = await client.get(LIST, params={"search": search, **params})
    assert response.status_code == 200, response.text
    return [item["identifier"] for item in response.json()["results"]]


async def _create(client: httpx.AsyncClient, key: str, name: str) -> str:
    body = {"name": name, "metadata": {"description": "Songbird recordings."}}
    response = await client.post(LIST, json=body, headers=auth(key))
    assert response.status_code == 200, response.text
    return str(response.json()["identifier"])


@contextmanager
def statements(connection: AsyncConnection) -> Iterator[list[str]]:
    """The SQL statements sent on the test's connection meanwhile (savepoints aside)."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        statement = str(args[2])
        if not statement.startswith(SAVEPOINTS):
            sent.append(statement)

    event.listen(connection.sync_connection, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(connection.sync_connection, "before_cursor_execute", record)


async def test_a_new_dandiset_is_found_by_its_name(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """The draft keeps its name in a column, not in its stored document: DANDI's document
    holds it, so DANDI finds a dandiset created a moment ago, assets or not."""
    _, key = await create_user(session)
    identifier = await _create(api_client, key, "Zebrafinch Dandiset")
    assert await _found(api_client, "Zebrafinch") == [identifier]
    assert await _found(api_client, "Zebrafinch", empty="true") == [identifier]
    assert await _found(api_client, '"zebrafinch dandiset"') == [identifier]
    assert await _found(api_client, "Zebrafinch", empty="false") == []  # it has no assets


async def test_a_renamed_draft_is_found_by_its_new_name_only(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, key = await create_user(session)
    identifier = await _create(api_client, key, "Zebrafinch Dandiset")
    body = {"name": "Canary Dandiset", "metadata": {"description": "Songbird recordings."}}
    url = f"{LIST}{identifier}/versions/draft/"
    response = await api_client.put(url, json=body, headers=auth(key))
    assert response.status_code == 200, response.text
    assert await _found(api_client, "Canary") == [identifier]
    assert await _found(api_client, "Zebrafinch") == []


async def test_any_version_holding_every_word_matches(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """A published version keeps its name after the draft is renamed; the words of one query
    must all be in one version (as DANDI: one row of its version table)."""
    owner, _ = await create_user(session)
    dandiset, draft = await create_dandiset(session, owner=owner, name="Canary Dandiset")
    draft.metadata_ = {"schemaKey": "Dandiset", "description": "Songbird recordings."}
    session.add(
        Version(
            dandiset_id=dandiset.id,
            version="0.240102.0304",
            name="Zebrafinch Dandiset",
            metadata_={"name": "Zebrafinch Dandiset", "description": "Songbird recordings."},
            status=VersionStatus.PUBLISHED,
        )
    )
    await session.flush()
    identifier = f"{dandiset.id:06}"
    assert await _found(api_client, "Zebrafinch songbird") == [identifier]
    assert await _found(api_client, "Canary songbird") == [identifier]
    assert await _found(api_client, "0.240102.0304") == [identifier]
    assert await _found(api_client, "Canary Zebrafinch") == []


async def test_a_document_changed_in_sql_is_searched_as_changed(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """The search text follows every writer of the row, here the summary job's JSON merge."""
    owner, _ = await create_user(session)
    dandiset, draft = await create_dandiset(session, owner=owner)
    summary = {"assetsSummary": {"species": [{"name": "Taeniopygia guttata - Zebra finch"}]}}
    await session.execute(
        update(Version)
        .where(Version.id == draft.id)
        .values(metadata_=Version.metadata_.op("||")(literal(summary, JSONB)))
    )
    assert await _found(api_client, "taeniopygia") == [f"{dandiset.id:06}"]


async def test_a_search_costs_a_fixed_number_of_statements(
    api_client: httpx.AsyncClient, session: AsyncSession, connection: AsyncConnection
) -> None:
    """One statement (the page with its count, stars, versions and the caller's stars), and
    the caller's key when signed in. However many match (a query per match would fail here,
    deterministically)."""
    owner, key = await create_user(session)
    for n in range(3):
        await create_dandiset(session, owner=owner, name=f"Zebrafinch {n}")
    with statements(connection) as anonymous:
        assert len(await _found(api_client, "zebrafinch")) == 3
    assert len(anonymous) == 1, anonymous
    with statements(connection) as signed_in:
        response = await api_client.get(LIST, params={"search": "zebrafinch"}, headers=auth(key))
        assert response.json()["count"] == 3
    assert len(signed_in) == 2, signed_in
