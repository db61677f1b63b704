"""`POST /api/dandisets/{id}/unembargo/`: DANDI's checks, codes and messages; 200 with a null
body, the dandiset UNEMBARGOING and the job asked for; and UNEMBARGOING's write lock."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from arq.constants import job_key_prefix
from conftest import auth, serve
from factories import create_asset, create_blob, create_dandiset, create_user, outbox_rows
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_api.app import create_app
from dandelion_api.resources import ApiResources
from dandelion_common.db.enums import EmbargoStatus, OutboxEntity, UserStatus
from dandelion_common.db.models import Dandiset, Upload, Version, VersionAsset
from dandelion_common.jobs.contracts import UNEMBARGO, UnembargoRequest
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.settings import Settings

NOT_EMBARGOED = "Dandiset not embargoed"
ACTIVE_UPLOADS = "Dandiset unembargo not allowed with active uploads"
IN_PROGRESS = "Dandiset modification not allowed during unembargo"


@pytest.fixture(scope="module")
def app(settings: Settings) -> FastAPI:
    """One app for the module: building one per test would be most of its runtime."""
    return create_app(settings)


@pytest.fixture
async def api_client(app: FastAPI, resources: ApiResources) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app, resources) as client:
        yield client


def url(dandiset: Dandiset) -> str:
    return f"/api/dandisets/{dandiset.id:06}/unembargo/"


async def embargoed(
    session: AsyncSession, status: EmbargoStatus = EmbargoStatus.EMBARGOED
) -> tuple[Dandiset, Version, str]:
    owner, key = await create_user(session)
    dandiset, draft = await create_dandiset(session, owner=owner, embargo_status=status)
    return dandiset, draft, key


async def job_asked_for(job_queue: JobQueue, dandiset: Dandiset) -> bool:
    # The job's id depends on the dandiset only; any user id names it.
    job_id = UNEMBARGO.job_id(UnembargoRequest(dandiset_id=dandiset.id, user_id=0))
    return bool(await job_queue.redis.exists(f"{job_key_prefix}{job_id}"))


@pytest.mark.parametrize("caller", ["owner", "admin"])
async def test_an_embargoed_dandiset_starts_unembargoing(
    api_client: httpx.AsyncClient, session: AsyncSession, job_queue: JobQueue, caller: str
) -> None:
    dandiset, _, owner_key = await embargoed(session)
    admin, admin_key = await create_user(session, admin=True)
    key = owner_key if caller == "owner" else admin_key

    response = await api_client.post(url(dandiset), headers=auth(key))

    assert (response.status_code, response.json()) == (200, None)
    await session.refresh(dandiset)
    assert dandiset.embargo_status is EmbargoStatus.UNEMBARGOING
    # Who asked, kept for the ingest reconcile should the job be lost.
    assert (dandiset.unembargo_requested_by == admin.id) is (caller == "admin")
    assert dandiset.unembargo_requested_by is not None
    assert dandiset.unembargo_requested_at is not None
    assert await job_asked_for(job_queue, dandiset)
    assert await outbox_rows(session, OutboxEntity.DANDISET, dandiset.id) == 1
    shown = await api_client.get(f"/api/dandisets/{dandiset.id:06}/", headers=auth(key))
    assert shown.json()["embargo_status"] == "UNEMBARGOING"


@pytest.mark.parametrize(
    ("caller", "code"), [("anonymous", 401), ("pending", 403), ("stranger", 403)]
)
@pytest.mark.parametrize("status", [EmbargoStatus.EMBARGOED, EmbargoStatus.OPEN])
async def test_only_owners_and_admins_may_ask_whatever_the_status(
    api_client: httpx.AsyncClient,
    session: AsyncSession,
    job_queue: JobQueue,
    caller: str,
    code: int,
    status: EmbargoStatus,
) -> None:
    dandiset, _, _ = await embargoed(session, status)
    headers = {}
    if caller != "anonymous":
        kind = UserStatus.PENDING if caller == "pending" else UserStatus.APPROVED
        headers = auth((await create_user(session, status=kind))[1])

    response = await api_client.post(url(dandiset), headers=headers)

    assert response.status_code == code, response.text
    await session.refresh(dandiset)
    assert dandiset.embargo_status is status
    assert not await job_asked_for(job_queue, dandiset)


async def test_an_unknown_dandiset_is_404(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, key = await create_user(session, admin=True)
    response = await api_client.post("/api/dandisets/999999/unembargo/", headers=auth(key))
    assert response.status_code == 404


@pytest.mark.parametrize("status", [EmbargoStatus.OPEN, EmbargoStatus.UNEMBARGOING])
async def test_a_dandiset_not_embargoed_is_refused(
    api_client: httpx.AsyncClient, session: AsyncSession, job_queue: JobQueue, status: EmbargoStatus
) -> None:
    dandiset, _, key = await embargoed(session, status)

    response = await api_client.post(url(dandiset), headers=auth(key))

    assert (response.status_code, response.json()) == (400, NOT_EMBARGOED)
    await session.refresh(dandiset)
    assert dandiset.embargo_status is status
    assert not await job_asked_for(job_queue, dandiset)


async def test_unfinished_uploads_are_refused(
    api_client: httpx.AsyncClient, session: AsyncSession, job_queue: JobQueue
) -> None:
    dandiset, _, key = await embargoed(session)
    session.add(
        Upload(
            multipart_upload_id="started",
            etag=f"{uuid.uuid4().hex}-1",
            size=10,
            dandiset_id=dandiset.id,
            embargoed=True,
        )
    )
    await session.flush()

    response = await api_client.post(url(dandiset), headers=auth(key))

    assert (response.status_code, response.json()) == (400, ACTIVE_UPLOADS)
    await session.refresh(dandiset)
    assert dandiset.embargo_status is EmbargoStatus.EMBARGOED
    assert not await job_asked_for(job_queue, dandiset)


# -- UNEMBARGOING refuses changes ----------------------------------------------------------


@dataclass
class Locked:
    dandiset: Dandiset
    draft: Version
    key: str
    owner_username: str
    asset_id: uuid.UUID
    spare_blob_id: uuid.UUID


Request = Callable[[Locked], tuple[str, str, Any]]  # method, path, JSON body

D = "/api/dandisets/{d:06}"
WRITES: dict[str, tuple[Request, int, str]] = {
    "metadata": (
        lambda w: ("PUT", f"{D}/versions/draft/".format(d=w.dandiset.id),
                   {"name": "Renamed", "metadata": {"description": "Changed."}}),
        400, IN_PROGRESS,
    ),
    "asset create": (
        lambda w: ("POST", f"{D}/versions/draft/assets/".format(d=w.dandiset.id),
                   {"blob_id": str(w.spare_blob_id), "metadata": {"path": "new.nwb"}}),
        400, IN_PROGRESS,
    ),
    "asset replace": (
        lambda w: ("PUT", f"{D}/versions/draft/assets/{w.asset_id}/".format(d=w.dandiset.id),
                   {"blob_id": str(w.spare_blob_id), "metadata": {"path": "moved.nwb"}}),
        400, IN_PROGRESS,
    ),
    "asset delete": (
        lambda w: ("DELETE", f"{D}/versions/draft/assets/{w.asset_id}/".format(d=w.dandiset.id),
                   None),
        400, IN_PROGRESS,
    ),
    "upload": (
        lambda w: ("POST", "/api/uploads/initialize/",
                   {"contentSize": 10, "dandiset": f"{w.dandiset.id:06}",
                    "digest": {"algorithm": "dandi:dandi-etag", "value": f"{uuid.uuid4().hex}-1"}}),
        400, IN_PROGRESS,
    ),
    "owners": (
        lambda w: ("PUT", f"{D}/users/".format(d=w.dandiset.id), [{"username": w.owner_username}]),
        400, IN_PROGRESS,
    ),
    # DANDI's delete_dandiset raises DandisetUnembargoInProgressError (400), not a 403.
    "dandiset delete": (
        lambda w: ("DELETE", f"{D}/".format(d=w.dandiset.id), None), 400, IN_PROGRESS,
    ),
    "publish": (
        lambda w: ("POST", f"{D}/versions/draft/publish/".format(d=w.dandiset.id), None),
        400, "Operation only allowed on OPEN dandisets",
    ),
}  # fmt: skip

# Every write is refused as DANDI words it (an entry here marks a known difference).
NOT_DANDIS_ANSWER: dict[str, str] = {}


async def locked(session: AsyncSession) -> Locked:
    owner, key = await create_user(session)
    dandiset, draft = await create_dandiset(
        session, owner=owner, embargo_status=EmbargoStatus.UNEMBARGOING
    )
    asset = await create_asset(session, version=draft, path="sub-01/a.nwb")
    spare = await create_blob(session, content=uuid.uuid4().bytes)
    spare.embargoed = True
    await session.flush()
    return Locked(dandiset, draft, key, owner.username, asset.id, spare.id)


async def draft_state(session: AsyncSession, draft: Version) -> tuple[Any, ...]:
    await session.refresh(draft)
    assets = await session.scalar(
        select(func.count()).select_from(VersionAsset).where(VersionAsset.version_id == draft.id)
    )
    uploads = await session.scalar(
        select(func.count()).select_from(Upload).where(Upload.dandiset_id == draft.dandiset_id)
    )
    return draft.name, draft.metadata_, draft.status, assets, uploads


def _write_cells() -> list[Any]:
    return [
        pytest.param(
            name,
            marks=[pytest.mark.xfail(strict=True, reason=NOT_DANDIS_ANSWER[name])]
            if name in NOT_DANDIS_ANSWER
            else [],
            id=name,
        )
        for name in WRITES
    ]


@pytest.mark.parametrize("write", _write_cells())
async def test_unembargoing_answers_writes_as_dandi(
    api_client: httpx.AsyncClient, session: AsyncSession, write: str
) -> None:
    world = await locked(session)
    request, code, message = WRITES[write]
    method, path, body = request(world)

    response = await api_client.request(method, path, json=body, headers=auth(world.key))

    assert (response.status_code, response.json()) == (code, message)


@pytest.mark.parametrize("write", list(WRITES))
async def test_unembargoing_refuses_every_change(
    api_client: httpx.AsyncClient, session: AsyncSession, write: str
) -> None:
    world = await locked(session)
    before = await draft_state(session, world.draft)
    method, path, body = WRITES[write][0](world)

    response = await api_client.request(method, path, json=body, headers=auth(world.key))

    assert response.status_code in (400, 403), response.text
    assert await draft_state(session, world.draft) == before
    await session.refresh(world.dandiset)
    assert world.dandiset.embargo_status is EmbargoStatus.UNEMBARGOING
    if write == "publish":
        return  # an embargoed dandiset cannot be published either
    # The control: the same request goes through once the dandiset is no longer locked.
    world.dandiset.embargo_status = EmbargoStatus.EMBARGOED
    await session.flush()
    response = await api_client.request(method, path, json=body, headers=auth(world.key))
    assert response.status_code in (200, 204), response.text
