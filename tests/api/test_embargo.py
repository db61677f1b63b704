"""Embargo leak tests: every read path, for every kind of caller, on a dandiset in each state.

`test_permissions.py` checks one status per route and caller on an EMBARGOED dandiset whose
blob is embargoed. This adds what it cannot see:
- what answers hold: lists and searches (with and without filters) that answer 200 to all
  but must not name the dandiset, refusals and redirects that must not carry its names or a
  download URL;
- the states in between: UNEMBARGOING with blobs already moved (readable by id, were the
  asset routes to look at the blob alone), and OPEN after the real unembargo job;
- the search service's own routes, the statistics, and the S3 URLs themselves.

Every table also runs on an open dandiset, the control that the request itself is right.
"""

from __future__ import annotations

import dataclasses
import os
import random
import string
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import pytest
from conftest import auth, ingest_context, serve
from factories import create_blob, create_dandiset, create_extract, create_user
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_api.app import create_app
from dandelion_api.resources import ApiResources
from dandelion_common.db.enums import EmbargoStatus, OutboxEntity
from dandelion_common.db.models import AssetBlob, Dandiset
from dandelion_common.db.session import Database
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.outbox import emit
from dandelion_common.settings import Settings
from dandelion_common.storage import S3Storage, blob_key
from dandelion_ingest.embargo import unembargo
from dandelion_search.api.resources import SearchResources
from dandelion_search.backends.postgres import PostgresSearchBackend
from dandelion_search.indexer import drain

Role = Literal["anonymous", "stranger", "owner", "admin"]
ROLES: tuple[Role, ...] = ("anonymous", "stranger", "owner", "admin")
# open: the control. embargoed: blob embargoed too. unembargoing: the job has moved the blob
# (flag false, object public) but not yet opened the dandiset. unembargoed: the real job ran.
Kind = Literal["open", "embargoed", "unembargoing", "unembargoed"]
KINDS: tuple[Kind, ...] = ("open", "embargoed", "unembargoing", "unembargoed")
CLOSED: frozenset[Kind] = frozenset({"embargoed", "unembargoing"})

OK = range(200, 400)
Expect = int | range
Row = tuple[Expect, Expect, Expect, Expect]  # by ROLES
EVERYONE: Row = (OK, OK, OK, OK)
OWNERS: Row = (401, 403, OK, OK)


@dataclass
class World:
    kind: Kind
    keys: dict[Role, str | None]
    dandiset_id: int
    asset_id: uuid.UUID
    blob_id: uuid.UUID
    token: str  # in the dandiset's name, the asset's path, species and genotype
    content: bytes

    def fill(self, text: str) -> str:
        return text.format(dandiset=f"{self.dandiset_id:06}", asset=self.asset_id, token=self.token)

    def secrets(self) -> list[str]:
        """What a caller who may not see the dandiset must not find in any answer."""
        return [self.token, str(self.asset_id), str(self.blob_id)]

    def headers(self, role: Role) -> dict[str, str]:
        key = self.keys[role]
        return auth(key) if key else {}


@pytest.fixture(scope="module")
def app(settings: Settings) -> FastAPI:
    """One app for the module: building one per test would be most of its runtime."""
    return create_app(settings)


@pytest.fixture
async def client(app: FastAPI, resources: ApiResources) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app, resources) as client:
        yield client


@pytest.fixture
def job_ctx(settings: Settings, db: Database, job_queue: JobQueue, storage: S3Storage) -> Any:
    return ingest_context(settings, db, job_queue, storage)


def _token() -> str:
    # Letters only, so search folds and tokenizes it as one word.
    return "".join(random.choices(string.ascii_lowercase, k=12))


async def build_world(
    session: AsyncSession,
    client: httpx.AsyncClient,
    storage: S3Storage,
    kind: Kind,
    *,
    job_ctx: Any = None,
    backend: PostgresSearchBackend | None = None,
) -> World:
    """A dandiset of `kind` with one NWB asset added through the API (so its folder tree
    exists), its bytes in S3 where an upload would have put them, and search outbox rows.
    `backend`: indexed before an unembargo too, so search sees the embargo change."""
    _, stranger_key = await create_user(session)
    owner, owner_key = await create_user(session)
    _, admin_key = await create_user(session, admin=True)
    token = _token()
    closed_at_first = kind != "open"
    dandiset, _ = await create_dandiset(
        session,
        owner=owner,
        name=f"Study {token}",
        embargo_status=EmbargoStatus.EMBARGOED if closed_at_first else EmbargoStatus.OPEN,
    )
    content = f"bytes of {token}".encode()
    blob = await create_blob(session, content=content)
    blob.embargoed = closed_at_first
    extract = await create_extract(session, blob)
    extract.species = f"Species {token}"
    await session.flush()
    await storage.put(blob_key(blob.id, embargoed=blob.embargoed), content)
    subject = {
        "schemaKey": "Participant", "identifier": "m1", "genotype": f"gt-{token}",
        "species": {"schemaKey": "SpeciesType", "name": f"Species {token}"},
    }  # fmt: skip
    metadata = {
        "path": f"sub-{token}/sub-{token}_ecephys.nwb",
        "encodingFormat": "application/x-nwb",
        "wasAttributedTo": [subject],
    }
    response = await client.post(
        f"/api/dandisets/{dandiset.id:06}/versions/draft/assets/",
        json={"blob_id": str(blob.id), "metadata": metadata},
        headers=auth(owner_key),
    )
    assert response.status_code == 200, response.text
    emit(session, OutboxEntity.DANDISET, dandiset.id)
    world = World(
        kind=kind,
        keys={"anonymous": None, "stranger": stranger_key, "owner": owner_key, "admin": admin_key},
        dandiset_id=dandiset.id,
        asset_id=uuid.UUID(response.json()["asset_id"]),
        blob_id=blob.id,
        token=token,
        content=content,
    )
    if backend is not None:
        await index(session, backend)
    await _advance(session, client, storage, world, job_ctx, owner.id)
    if backend is not None:
        await index(session, backend)
    return world


async def _advance(
    session: AsyncSession,
    client: httpx.AsyncClient,
    storage: S3Storage,
    world: World,
    job_ctx: Any,
    owner_id: int,
) -> None:
    """Take an embargoed world on to its kind."""
    if world.kind == "unembargoing":
        # As the job leaves a blob it has moved, before it opens the dandiset.
        source, target = blob_key(world.blob_id, embargoed=True), blob_key(world.blob_id)
        await storage.copy(source, target, len(world.content))
        await storage.delete(source)
        dandiset = await session.get(Dandiset, world.dandiset_id)
        blob = await session.get(AssetBlob, world.blob_id)
        assert dandiset is not None
        assert blob is not None
        dandiset.embargo_status, blob.embargoed = EmbargoStatus.UNEMBARGOING, False
        emit(session, OutboxEntity.DANDISET, dandiset.id)
        await session.flush()
    elif world.kind == "unembargoed":
        url = f"/api/dandisets/{world.dandiset_id:06}/unembargo/"
        response = await client.post(url, headers=world.headers("owner"))
        assert response.status_code == 200, response.text
        payload = {"dandiset_id": world.dandiset_id, "user_id": owner_id}
        assert (await unembargo.coroutine(job_ctx, **payload)).startswith("open")


async def index(session: AsyncSession, backend: PostgresSearchBackend) -> None:
    await session.commit()  # a savepoint of the test's transaction: the drain sees it
    await drain(backend.db, backend)


def check(world: World, role: Role, expected: Expect, response: httpx.Response) -> str | None:
    """What is wrong with `response` to `role`, or None."""
    status = response.status_code
    if (status not in expected) if isinstance(expected, range) else status != expected:
        return f"{role}: {status} (expected {expected}) {response.text[:200]}"
    if status >= 400:
        leaked = [s for s in world.secrets() if s in response.text]
        if leaked or "location" in response.headers:
            return f"{role}: refusal carries {leaked} / {response.headers.get('location')}"
    if status == 302 and not response.headers.get("location"):
        return f"{role}: a redirect without a URL"
    return None


# -- reads of the dandiset and its assets ------------------------------------------------------

D = "/api/dandisets/{dandiset}"
A = D + "/versions/draft/assets"
ATPATH = {
    "dandiset_id": "{dandiset}", "version_id": "draft", "path": "sub-{token}/",
    "children": "true", "metadata": "true",
}  # fmt: skip
# DANDI refuses inside the atpath view, which DRF leaves a 403 even for the anonymous.
ATPATH_OWNERS: Row = (403, 403, OK, OK)

READS: list[tuple[str, str, dict[str, str], Row]] = [
    ("GET", D + "/", {}, OWNERS),
    ("GET", D + "/users/", {}, OWNERS),
    ("GET", D + "/versions/", {}, OWNERS),
    ("GET", D + "/versions/", {"order": "-created"}, OWNERS),
    ("GET", D + "/versions/draft/", {}, OWNERS),
    ("GET", D + "/versions/draft/info/", {}, OWNERS),
    ("GET", A + "/", {}, OWNERS),
    ("GET", A + "/", {"metadata": "true", "order": "-path"}, OWNERS),
    ("GET", A + "/", {"path": "sub-{token}"}, OWNERS),
    ("GET", A + "/", {"glob": "*{token}*", "page_size": "1"}, OWNERS),
    ("GET", A + "/paths/", {}, OWNERS),
    ("GET", A + "/paths/", {"path_prefix": "sub-{token}"}, OWNERS),
    ("GET", A + "/{asset}/", {}, OWNERS),
    ("GET", A + "/{asset}/info/", {}, OWNERS),
    ("GET", A + "/{asset}/validation/", {}, OWNERS),
    ("GET", A + "/{asset}/download/", {}, OWNERS),
    ("HEAD", A + "/{asset}/download/", {}, OWNERS),
    ("GET", A + "/{asset}/download/", {"content_disposition": "inline"}, OWNERS),
    ("GET", "/api/assets/{asset}/", {}, OWNERS),
    ("GET", "/api/assets/{asset}/info/", {}, OWNERS),
    ("HEAD", "/api/assets/{asset}/info/", {}, OWNERS),
    ("GET", "/api/assets/{asset}/download/", {}, OWNERS),
    ("HEAD", "/api/assets/{asset}/download/", {}, OWNERS),
    ("GET", "/api/webdav/assets/atpath/", ATPATH, ATPATH_OWNERS),
    ("GET", "/api/webdav/assets/atpath/", {**ATPATH, "path": "sub-{token}"}, ATPATH_OWNERS),
]


@pytest.mark.parametrize("kind", KINDS)
async def test_reads(
    client: httpx.AsyncClient,
    session: AsyncSession,
    storage: S3Storage,
    job_ctx: Any,
    kind: Kind,
) -> None:
    """Every cell of READS (route by role) on one dandiset of `kind`; all wrong cells listed."""
    world = await build_world(session, client, storage, kind, job_ctx=job_ctx)
    problems = []
    for method, path, params, row in READS:
        query = {name: world.fill(value) for name, value in params.items()}
        for role, status in zip(ROLES, row if kind in CLOSED else EVERYONE, strict=True):
            response = await client.request(
                method, world.fill(path), params=query, headers=world.headers(role)
            )
            if problem := check(world, role, status, response):
                problems.append(f"{method} {path} {params} {problem}")
    assert problems == []


# -- lists and searches: 200 for all, the dandiset only for those who may see it ------------

SEES = True
# Per role: a status, or whether the dandiset (its token) is in the 200 answer.
Sight = tuple[int | bool, int | bool, int | bool, int | bool]
ALL_SEE: Sight = (SEES, SEES, SEES, SEES)
NOBODY: Sight = (False, False, False, False)
ASKED: Sight = (401, False, SEES, SEES)  # embargoed=true: owners and admins
OWNERS_SEE: Sight = (False, False, SEES, SEES)

LISTS: list[tuple[str, dict[str, str], Sight, Sight]] = [
    # path, params, open dandiset, closed dandiset
    ("/api/dandisets/", {}, ALL_SEE, NOBODY),
    ("/api/dandisets/", {"search": "{token}"}, ALL_SEE, NOBODY),
    ("/api/dandisets/", {"ordering": "-size", "empty": "false", "draft": "true"}, ALL_SEE, NOBODY),
    ("/api/dandisets/", {"user": "me"}, (SEES, False, SEES, False), NOBODY),
    ("/api/dandisets/", {"embargoed": "true"}, (401, SEES, SEES, SEES), ASKED),
    ("/api/dandisets/", {"embargoed": "true", "search": "{token}"}, (401, SEES, SEES, SEES), ASKED),
    ("/api/dandisets/", {"embargoed": "true", "user": "me"}, (401, False, SEES, False),
     (401, False, SEES, False)),
    ("/api/dandisets/", {"embargoed": "true", "ordering": "name"}, (401, SEES, SEES, SEES), ASKED),
    ("/api/dandisets/search/", {}, ALL_SEE, NOBODY),
    ("/api/dandisets/search/", {"species": "Species {token}"}, ALL_SEE, NOBODY),
    ("/api/dandisets/search/", {"search": "{token}", "file_type": "application/x-nwb"},
     ALL_SEE, NOBODY),
    ("/api/dandisets/search/", {"embargoed": "true", "species": "Species {token}"},
     (401, SEES, SEES, SEES), ASKED),
    ("/api/search/species/", {}, ALL_SEE, OWNERS_SEE),
    ("/api/search/species/", {"species": "{token}"}, ALL_SEE, OWNERS_SEE),
    ("/api/search/genotypes/", {"genotype": "{token}"}, ALL_SEE, OWNERS_SEE),
]  # fmt: skip


def sight_problem(
    world: World, role: Role, sight: int | bool, response: httpx.Response
) -> str | None:
    if isinstance(sight, int) and not isinstance(sight, bool):
        return check(world, role, sight, response)
    if response.status_code != 200:
        return f"{role}: {response.status_code} {response.text[:200]}"
    if (world.token in response.text) != sight:
        return f"{role}: {'missing' if sight else 'LEAKED'} in {response.text[:300]}"
    return None


@pytest.mark.parametrize("kind", KINDS)
async def test_lists_and_searches(
    client: httpx.AsyncClient,
    session: AsyncSession,
    storage: S3Storage,
    job_ctx: Any,
    kind: Kind,
) -> None:
    """Every cell of LISTS (route and filters by role) on one dandiset of `kind`."""
    world = await build_world(session, client, storage, kind, job_ctx=job_ctx)
    problems = []
    for path, params, opened, closed in LISTS:
        # page_size: the whole list on one page, so "not in the answer" means "not listed".
        query = {"page_size": "1000", **{k: world.fill(v) for k, v in params.items()}}
        for role, sight in zip(ROLES, closed if kind in CLOSED else opened, strict=True):
            response = await client.get(path, params=query, headers=world.headers(role))
            if problem := sight_problem(world, role, sight, response):
                problems.append(f"{path} {params} {problem}")
    assert problems == []


# -- the search service's own routes ----------------------------------------------------------

SEARCH_SERVICE: list[tuple[str, dict[str, str]]] = [
    ("/api/search/dandisets/", {"q": "{token}"}),
    ("/api/search/dandisets/", {}),  # its facets count every visible asset
    ("/api/search/dandisets/", {"species": "Species {token}"}),
    ("/api/search/assets/", {"q": "{token}"}),
    ("/api/search/assets/", {}),
    ("/api/search/assets/", {"species": "Species {token}", "sort": "path"}),
]


@pytest.fixture(scope="module")
def search_app(settings: Settings) -> FastAPI:
    from dandelion_search.app import create_app as create_search_app

    return create_search_app(settings)


@pytest.mark.parametrize("kind", KINDS)
async def test_search_service(
    client: httpx.AsyncClient,
    search_app: FastAPI,
    search_resources: SearchResources,
    db: Database,
    session: AsyncSession,
    storage: S3Storage,
    job_ctx: Any,
    kind: Kind,
) -> None:
    """The search drain indexes the dandiset as it is (and, unembargoed, again after the job,
    which asks for no asset row: the drain re-indexes assets whose dandiset's access changed)."""
    backend = PostgresSearchBackend(db)
    world = await build_world(session, client, storage, kind, job_ctx=job_ctx, backend=backend)
    sights = OWNERS_SEE if kind in CLOSED else ALL_SEE
    problems = []
    async with serve(search_app, dataclasses.replace(search_resources, search=backend)) as search:
        for path, params in SEARCH_SERVICE:
            query = {k: world.fill(v) for k, v in params.items()}
            for role, sight in zip(ROLES, sights, strict=True):
                response = await search.get(path, params=query, headers=world.headers(role))
                if problem := sight_problem(world, role, sight, response):
                    problems.append(f"{path} {params} {problem}")
    assert problems == []


# -- statistics and S3 ---------------------------------------------------------------------------


async def test_statistics_are_the_same_for_everyone_and_count_embargoed_dandisets(
    client: httpx.AsyncClient, session: AsyncSession, storage: S3Storage
) -> None:
    """As DANDI: archive-wide counts (embargoed dandisets included), never per caller."""
    before = (await client.get("/api/stats/")).json()
    world = await build_world(session, client, storage, "embargoed")

    answers = [(await client.get("/api/stats/", headers=world.headers(r))).json() for r in ROLES]

    assert all(answer == answers[0] for answer in answers)
    assert answers[0]["dandiset_count"] == before["dandiset_count"] + 1


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def test_an_embargoed_object_is_refused_at_its_s3_url(
    client: httpx.AsyncClient,
    session: AsyncSession,
    storage: S3Storage,
    http: httpx.AsyncClient,
) -> None:
    world = await build_world(session, client, storage, "embargoed")
    asset = f"/api/assets/{world.asset_id}/"
    listed = (await client.get(asset, headers=world.headers("owner"))).json()["contentUrl"][1]
    assert listed == storage.object_url(blob_key(world.blob_id, embargoed=True))

    assert (await http.get(listed)).status_code == 403
    assert (await http.get(storage.object_url(blob_key(world.blob_id)))).status_code != 200
    # The owner's way in: a presigned URL from the API.
    redirect = await client.get(f"{asset}download/", headers=world.headers("owner"))
    assert (await http.get(redirect.headers["location"])).content == world.content


async def test_after_unembargo_the_public_s3_url_serves_the_bytes(
    client: httpx.AsyncClient,
    session: AsyncSession,
    storage: S3Storage,
    http: httpx.AsyncClient,
    job_ctx: Any,
) -> None:
    if os.environ.get("DANDELION_TEST_S3_URL"):
        pytest.skip("an S3 server of your own need not grant anonymous reads")
    world = await build_world(session, client, storage, "unembargoed", job_ctx=job_ctx)
    urls = (await client.get(f"/api/assets/{world.asset_id}/")).json()["contentUrl"]

    assert urls[1] == storage.object_url(blob_key(world.blob_id))
    response = await http.get(urls[1], headers={"Range": "bytes=0-4"})
    assert (response.status_code, response.content) == (206, world.content[:5])
    old = storage.object_url(blob_key(world.blob_id, embargoed=True))
    assert (await http.get(old)).status_code != 200
