"""Dandisets over HTTP, shaped and filtered as DANDI's."""

from __future__ import annotations

import httpx
from conftest import auth
from factories import create_asset, create_dandiset, create_user
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import EmbargoStatus, UserStatus
from dandelion_common.db.models import AuditRecord

LIST_ITEM_KEYS = [
    "identifier",
    "created",
    "modified",
    "contact_person",
    "embargo_status",
    "star_count",
    "is_starred",
    "most_recent_published_version",
    "draft_version",
]
VERSION_DETAIL_KEYS = [
    "version",
    "name",
    "asset_count",
    "active_uploads",
    "size",
    "status",
    "created",
    "modified",
    "release_notes",
]


async def test_create_returns_dandis_detail_shape(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user, key = await create_user(session, first_name="Jane", last_name="Doe")
    body = {"name": "Mouse V1", "metadata": {"description": "Recordings", "name": "ignored"}}
    response = await api_client.post("/api/dandisets/", json=body, headers=auth(key))
    assert response.status_code == 200, response.text
    created = response.json()
    assert list(created) == LIST_ITEM_KEYS
    assert created["identifier"].isdigit()
    assert len(created["identifier"]) == 6
    assert created["contact_person"] == "Doe, Jane"
    assert created["most_recent_published_version"] is None
    assert list(created["draft_version"]) == VERSION_DETAIL_KEYS
    assert (created["draft_version"]["name"], created["draft_version"]["status"]) == (
        "Mouse V1",
        "Pending",
    )
    assert created["created"].endswith("Z")
    records = await session.scalars(
        select(AuditRecord.record_type).where(AuditRecord.username == user.username)
    )
    assert list(records) == ["create_dandiset"]


async def test_writes_need_an_approved_user(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, key = await create_user(session, status=UserStatus.PENDING)
    body = {"name": "x", "metadata": {}}
    anonymous = await api_client.post("/api/dandisets/", json=body)
    pending = await api_client.post("/api/dandisets/", json=body, headers=auth(key))
    assert (anonymous.status_code, pending.status_code) == (401, 403)


async def test_list_is_paginated_with_absolute_next(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, _ = await create_user(session)
    for n in range(3):
        await create_dandiset(session, owner=owner, name=f"paged {n}")
    first = (
        await api_client.get("/api/dandisets/", params={"page_size": 2, "search": "paged"})
    ).json()
    assert first["count"] == 3
    assert first["next"] == "http://testserver/api/dandisets/?page_size=2&search=paged&page=2"
    second = (await api_client.get(first["next"])).json()
    assert [d["draft_version"]["name"] for d in second["results"]] == ["paged 2"]
    assert second["previous"] == "http://testserver/api/dandisets/?page_size=2&search=paged"
    past = await api_client.get(
        "/api/dandisets/", params={"page_size": 2, "search": "paged", "page": 3}
    )
    assert (past.status_code, past.json()) == (404, {"detail": "Invalid page."})


async def test_embargoed_dandisets_are_hidden_from_others(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, owner_key = await create_user(session)
    _, other_key = await create_user(session)
    dandiset, _ = await create_dandiset(
        session, owner=owner, name="secret", embargo_status=EmbargoStatus.EMBARGOED
    )
    url = f"/api/dandisets/{dandiset.id:06}/"
    assert (await api_client.get(url)).status_code == 401
    assert (await api_client.get(url, headers=auth(other_key))).status_code == 403
    assert (await api_client.get(url, headers=auth(owner_key))).status_code == 200
    listed = await api_client.get(
        "/api/dandisets/", params={"search": "secret", "embargoed": "true"}, headers=auth(owner_key)
    )
    assert [d["identifier"] for d in listed.json()["results"]] == [f"{dandiset.id:06}"]
    default = await api_client.get(
        "/api/dandisets/", params={"search": "secret"}, headers=auth(owner_key)
    )
    assert default.json()["count"] == 0


async def test_filters_and_ordering(api_client: httpx.AsyncClient, session: AsyncSession) -> None:
    owner, key = await create_user(session)
    other, _ = await create_user(session)
    _, full = await create_dandiset(session, owner=owner, name="zz-filter full")
    await create_asset(session, version=full, path="a.nwb")
    await create_dandiset(session, owner=other, name="aa-filter empty")
    params = {"search": "filter", "ordering": "-name"}
    names = [
        d["draft_version"]["name"]
        for d in (await api_client.get("/api/dandisets/", params=params)).json()["results"]
    ]
    assert names == ["zz-filter full", "aa-filter empty"]
    non_empty = (
        await api_client.get("/api/dandisets/", params={**params, "empty": "false"})
    ).json()
    assert [d["draft_version"]["name"] for d in non_empty["results"]] == ["zz-filter full"]
    mine = (
        await api_client.get("/api/dandisets/", params={**params, "user": "me"}, headers=auth(key))
    ).json()
    assert [d["draft_version"]["name"] for d in mine["results"]] == ["zz-filter full"]
    published_only = (
        await api_client.get("/api/dandisets/", params={**params, "draft": "false"})
    ).json()
    assert published_only["count"] == 0


async def test_stars_owners_and_delete(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, key = await create_user(session)
    friend, friend_key = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    base = f"/api/dandisets/{dandiset.id:06}"
    assert (await api_client.post(f"{base}/star/", headers=auth(friend_key))).json() == {"count": 1}
    assert (await api_client.post(f"{base}/star/", headers=auth(friend_key))).json() == {"count": 1}
    assert (await api_client.get(f"{base}/", headers=auth(friend_key))).json()["is_starred"] is True
    starred = await api_client.get(
        "/api/dandisets/", params={"starred": "true"}, headers=auth(friend_key)
    )
    assert [d["identifier"] for d in starred.json()["results"]] == [f"{dandiset.id:06}"]
    assert (
        await api_client.put(f"{base}/users/", json=[], headers=auth(key))
    ).json() == "Cannot remove all draft owners"
    assert (
        await api_client.put(
            f"{base}/users/", json=[{"username": owner.username}], headers=auth(friend_key)
        )
    ).status_code == 403
    owners = await api_client.put(
        f"{base}/users/",
        json=[{"username": owner.username}, {"username": friend.username}],
        headers=auth(key),
    )
    assert sorted(o["username"] for o in owners.json()) == sorted([owner.username, friend.username])
    public = (await api_client.get(f"{base}/users/")).json()
    assert {o["email"] for o in public} == {None}
    assert (await api_client.delete(f"{base}/", headers=auth(friend_key))).status_code == 204
    assert (await api_client.get(f"{base}/")).status_code == 404


async def test_ids_outside_dandis_pattern_are_404(api_client: httpx.AsyncClient) -> None:
    response = await api_client.get("/api/dandisets/123/")
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})
