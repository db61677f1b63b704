"""`/api/dandisets/{id}/tombstone/` (beyond DANDI): what a deletion leaves, while the dandiset
route keeps answering DANDI's 404."""

from __future__ import annotations

from datetime import datetime

import httpx
from conftest import auth
from factories import create_dandiset, create_user
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import EmbargoStatus, VersionStatus
from dandelion_common.db.models import DandisetTombstone, Version


async def test_a_deleted_dandiset_leaves_a_tombstone_anyone_can_read(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, key = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner, name="Short-lived study")
    base = f"/api/dandisets/{dandiset.id:06}"
    created = dandiset.created

    assert (await api_client.delete(f"{base}/", headers=auth(key))).status_code == 204

    answer = await api_client.get(f"{base}/tombstone/")  # anonymous
    assert answer.status_code == 200
    body = answer.json()
    assert list(body) == ["identifier", "name", "deleted"]
    assert (body["identifier"], body["name"]) == (f"{dandiset.id:06}", "Short-lived study")
    deleted = datetime.fromisoformat(body["deleted"])
    assert deleted.tzinfo is not None
    assert deleted >= created
    # DANDI's answer, which the dandi client relies on, is unchanged.
    gone = await api_client.get(f"{base}/")
    assert gone.status_code == 404
    assert gone.json() == {"detail": "No Dandiset matches the given query."}


async def test_no_tombstone_for_a_dandiset_never_deleted(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, _ = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    for identifier in ("999999", f"{dandiset.id:06}"):
        answer = await api_client.get(f"/api/dandisets/{identifier}/tombstone/")
        assert (answer.status_code, answer.json()) == (404, {"detail": "Not found."}), identifier
    assert (await api_client.get("/api/dandisets/12/tombstone/")).status_code == 404


async def test_an_embargoed_dandisets_name_is_kept_but_never_shown(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, key = await create_user(session)
    _, admin_key = await create_user(session, admin=True)
    dandiset, _ = await create_dandiset(
        session, owner=owner, name="Secret study", embargo_status=EmbargoStatus.EMBARGOED
    )
    base = f"/api/dandisets/{dandiset.id:06}"
    assert (await api_client.delete(f"{base}/", headers=auth(key))).status_code == 204

    for headers in ({}, auth(admin_key)):
        answer = await api_client.get(f"{base}/tombstone/", headers=headers)
        assert answer.status_code == 200
        assert answer.json()["name"] is None
        assert "Secret study" not in answer.text
    row = await session.get(DandisetTombstone, dandiset.id)
    assert row is not None
    assert (row.name, row.embargoed) == ("Secret study", True)


async def test_a_refused_deletion_leaves_no_tombstone(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, key = await create_user(session)
    _, stranger_key = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    session.add(
        Version(
            dandiset_id=dandiset.id,
            version="0.240102.0304",
            name="Published",
            metadata_={"name": "Published"},
            status=VersionStatus.PUBLISHED,
        )
    )
    await session.flush()
    base = f"/api/dandisets/{dandiset.id:06}"
    assert (await api_client.delete(f"{base}/", headers=auth(stranger_key))).status_code == 403
    assert (await api_client.delete(f"{base}/", headers=auth(key))).status_code == 403
    assert await session.scalar(select(DandisetTombstone)) is None
    assert (await api_client.get(f"{base}/tombstone/")).status_code == 404


async def test_a_deleted_id_recreated_and_deleted_again_names_the_latest(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin, admin_key = await create_user(session, admin=True)
    dandiset, _ = await create_dandiset(session, owner=admin, name="First")
    identifier = f"{dandiset.id:06}"
    base = f"/api/dandisets/{identifier}"
    assert (await api_client.delete(f"{base}/", headers=auth(admin_key))).status_code == 204
    # A second deletion finds nothing to delete and leaves the tombstone as it was.
    assert (await api_client.delete(f"{base}/", headers=auth(admin_key))).status_code == 404
    assert (await api_client.get(f"{base}/tombstone/")).json()["name"] == "First"

    recreated = await api_client.post(
        "/api/dandisets/",
        json={"name": "Second", "metadata": {"identifier": f"DANDI:{identifier}"}},
        headers=auth(admin_key),
    )
    assert recreated.status_code == 200, recreated.text
    assert (await api_client.get(f"{base}/tombstone/")).status_code == 404  # it exists

    assert (await api_client.delete(f"{base}/", headers=auth(admin_key))).status_code == 204
    assert (await api_client.get(f"{base}/tombstone/")).json()["name"] == "Second"
    assert len(list(await session.scalars(select(DandisetTombstone)))) == 1
