"""One commit point per request: committed before the client hears success, jobs after it;
a session only for the requests that use one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from arq.jobs import Job, JobStatus
from conftest import serve
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dandelion_api.resources import ApiResources
from dandelion_common.db.models import AuditRecord
from dandelion_common.db.session import Database
from dandelion_common.errors import Conflict
from dandelion_common.jobs import JobContract, enqueue_after_commit
from dandelion_common.jobs.contracts import Payload
from dandelion_common.web.auth import MaybeUser
from dandelion_common.web.errors import install_error_handlers
from dandelion_common.web.routing import APIRouter, CommitRoute, SessionDep

QUEUE = f"dandelion:queue:test-routing-{uuid.uuid4().hex[:8]}"


class Marker(Payload):
    marker: str


NOTIFY = JobContract("notify", QUEUE, Marker, key=lambda p: p.marker)


def record(marker: str) -> AuditRecord:
    return AuditRecord(
        dandiset_id=1, username="t", user_email="", user_fullname="", record_type=marker, details={}
    )


def build_app() -> FastAPI:
    router = APIRouter(responses={})  # commits by default: no route_class to remember

    @router.post("/records/{marker}")
    async def create(marker: str, session: SessionDep) -> dict[str, str]:
        session.add(record(marker))
        enqueue_after_commit(session, NOTIFY, Marker(marker=marker))
        return {"marker": marker}

    @router.post("/records/{marker}/fail")
    async def create_then_fail(marker: str, session: SessionDep) -> None:
        session.add(record(marker))
        await session.flush()
        enqueue_after_commit(session, NOTIFY, Marker(marker=marker))
        raise Conflict("refused after writing")

    @router.get("/caller")
    async def caller(user: MaybeUser) -> dict[str, str | None]:
        return {"caller": user.username if user else None}

    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    return app


@pytest.fixture
async def real_db(engine: AsyncEngine) -> AsyncIterator[Database]:
    """Real commits (no outer transaction), cleaned up afterwards."""
    db = Database(engine, async_sessionmaker(engine, expire_on_commit=False))
    yield db
    async with db.session() as session:
        await session.execute(delete(AuditRecord).where(AuditRecord.record_type.like("route-%")))
        await session.commit()


@pytest.fixture
async def client(resources: ApiResources, real_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    own = ApiResources(resources.settings, real_db, resources.queue, resources.storage)
    async with serve(build_app(), own) as client:
        yield client


async def count(db: Database, marker: str) -> int:
    async with db.session() as session:
        query = select(func.count()).where(AuditRecord.record_type == marker)
        return int(await session.scalar(query) or 0)


async def job_status(resources: ApiResources, marker: str) -> JobStatus:
    job_id = NOTIFY.job_id(Marker(marker=marker))
    assert job_id is not None
    return await Job(job_id, resources.queue.redis, _queue_name=QUEUE).status()


async def test_success_is_committed_and_its_job_sent(
    client: httpx.AsyncClient, real_db: Database, resources: ApiResources
) -> None:
    marker = f"route-{uuid.uuid4().hex[:8]}"
    response = await client.post(f"/records/{marker}")
    assert response.status_code == 200
    assert await count(real_db, marker) == 1  # another connection already sees it
    assert await job_status(resources, marker) == JobStatus.queued


async def test_an_error_rolls_back_and_sends_nothing(
    client: httpx.AsyncClient, real_db: Database, resources: ApiResources
) -> None:
    marker = f"route-{uuid.uuid4().hex[:8]}"
    response = await client.post(f"/records/{marker}/fail")
    assert (response.status_code, response.json()) == (409, "refused after writing")
    assert await count(real_db, marker) == 0
    assert await job_status(resources, marker) == JobStatus.not_found


def test_the_project_router_commits_and_documents_its_errors() -> None:
    router = APIRouter(prefix="/x", responses={})

    @router.post("/")
    async def write() -> None: ...

    assert [type(route) for route in router.routes] == [CommitRoute]
    with pytest.raises(TypeError):
        APIRouter(responses={}, route_class=APIRoute)  # a route that would not commit
    with pytest.raises(TypeError):
        APIRouter()  # type: ignore[call-arg]  # the errors its routes answer are not said


def no_sessions() -> AsyncSession:
    raise AssertionError("this request opened a session")


async def test_a_request_that_needs_no_database_opens_no_session(
    resources: ApiResources, engine: AsyncEngine
) -> None:
    """Opening and closing a session was a tenth of an anonymous `GET /api/info/`."""
    db = Database(engine, no_sessions)  # type: ignore[arg-type]
    own = ApiResources(resources.settings, db, resources.queue, resources.storage)
    async with serve(build_app(), own) as client:
        response = await client.get("/caller")
    assert (response.status_code, response.json()) == (200, {"caller": None})


async def test_the_session_is_closed_once_the_request_is_answered(
    client: httpx.AsyncClient, real_db: Database
) -> None:
    pool = real_db.engine.pool
    before = pool.checkedout()  # type: ignore[attr-defined]
    marker = f"route-{uuid.uuid4().hex[:8]}"
    for path in (f"/records/{marker}", f"/records/{marker}-2/fail"):
        await client.post(path)
        assert pool.checkedout() == before  # type: ignore[attr-defined]
