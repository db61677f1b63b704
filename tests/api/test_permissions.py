"""Who may call what: every API route, for every kind of caller, on open and embargoed data.

The expected statuses are DANDI's (dandi-archive notes §0, §1, §5):

- credentials missing where a route needs them (an anonymous embargoed read included): 401;
- authenticated but not allowed (an unapproved user writing, a non-owner, a non-admin): 403;
- otherwise the request goes through: 2xx/3xx, or a named non-auth status where the request
  itself is not valid for that caller (never 401/403).

DANDI's global permission `IsApprovedOrReadOnly` runs before any view: every unsafe method
answers 401 to the anonymous and 403 to a not-yet-approved user, whatever the view does next.

`MATRIX` must name every route of the app: `test_matrix_covers_every_route` fails for a route
added without an entry, so a new route cannot escape this test. Every GET route of it also
answers HEAD as GET does (`test_every_get_route_answers_head_as_get`).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import fastapi.routing
import httpx
import pytest
from conftest import auth, serve
from factories import create_blob, create_dandiset, create_user
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_api.app import create_app
from dandelion_api.resources import ApiResources
from dandelion_common.db.enums import EmbargoStatus, UserStatus, VersionStatus
from dandelion_common.db.models import Upload, Version, ZarrArchive
from dandelion_common.settings import Settings
from dandelion_common.storage import S3Storage, blob_key, zarr_key

Caller = Literal["anonymous", "pending", "approved", "owner", "admin"]
CALLERS: tuple[Caller, ...] = ("anonymous", "pending", "approved", "owner", "admin")
WorldKind = Literal["open", "embargoed"]

# An expectation: an exact status, or a range of statuses (the success class).
Expect = int | range
OK = range(200, 400)
Row = tuple[Expect, Expect, Expect, Expect, Expect]  # in the order of CALLERS

PUBLIC: Row = (OK, OK, OK, OK, OK)
SIGNED_IN: Row = (401, OK, OK, OK, OK)
APPROVED: Row = (401, 403, OK, OK, OK)
OWNERS: Row = (401, 403, 403, OK, OK)
ADMINS: Row = (401, 403, 403, 403, OK)
# Found by no one: the tombstone of a dandiset that still exists (the world's) is unknown to
# every caller, never a 401/403 (tests/api/dandisets/test_tombstone.py reads real ones).
NOBODY: Row = (404, 404, 404, 404, 404)
# Embargoed blobs are not found by digest except by their owners and admins (DANDI answers
# them to everyone, a gap its notes call out); either way it is never a 401/403.
DIGEST_EMBARGOED: Row = (404, 404, 404, OK, OK)

# Routes outside the matrix: probes, docs (DANDI's addresses of them too) and the
# unauthenticated info alias, and the root's redirect to the web pages.
EXCLUDED_PATHS = {
    "/",
    "/healthz",
    "/readyz",
    "/server-info",
    "/docs/oauth2-redirect",
    "/swagger/",
    "/redoc/",
}
EXCLUDED_PREFIXES = ("/api/docs/",)

D = "/api/dandisets/{dandiset_id}"
V = D + "/versions/{version}"
A = V + "/assets"
Z = "/api/zarr/{zarr_id}"
ZARR_FILE = "0/0"
EMPTY_MD5 = "1B2M2Y8AsgTpgAmY7PhCfg=="  # base64 of the MD5 of no bytes


@dataclass
class World:
    """What one cell acts on: users with keys, one dandiset with one asset made via the API."""

    kind: WorldKind
    keys: dict[Caller, str | None]
    owner_username: str
    dandiset_id: int
    version: str
    asset_id: str
    blob_id: str
    blob_etag: str
    spare_blob_id: str
    upload_id: str
    zarr_id: str  # a zarr archive of the dandiset holding one file, ZARR_FILE

    def path_params(self) -> dict[str, str]:
        return {
            "dandiset_id": f"{self.dandiset_id:06}",
            "version": self.version,
            "asset_id": self.asset_id,
            "upload_id": self.upload_id,
            "zarr_id": self.zarr_id,
        }


Body = Callable[[World], Any]


@dataclass(frozen=True)
class Spec:
    """One route's expected statuses, and how to make a real request of it."""

    open: Row
    # Rows per world for routes on a dandiset or asset; None: the route is not scoped.
    embargoed: Row | None = None
    body: Body | None = None
    # Query parameters; `{dandiset_id}`, `{version}` and `{asset_id}` are filled in as in paths.
    params: dict[str, str] = field(default_factory=dict)
    # The route acts on a published version (created in the world) instead of the draft.
    published: bool = False
    # Cells that fail because of a bug in the API: (world, caller) -> reason.
    bugs: dict[tuple[WorldKind, Caller], str] = field(default_factory=dict)


def _initialize(world: World) -> dict[str, Any]:
    digest = {
        "algorithm": "dandi:dandi-etag",
        "value": f"{uuid.uuid4().hex}-1",
    }  # never a dedup hit
    return {"contentSize": 10, "digest": digest, "dandiset": f"{world.dandiset_id:06}"}


def _digest(world: World) -> dict[str, str]:
    return {"algorithm": "dandi:dandi-etag", "value": world.blob_etag}


def _new_asset(world: World) -> dict[str, Any]:
    return {"blob_id": world.spare_blob_id, "metadata": {"path": "sub-02/new.nwb"}}


def _moved_asset(world: World) -> dict[str, Any]:
    return {"blob_id": world.blob_id, "metadata": {"path": "sub-01/moved.nwb"}}


def _owners(world: World) -> list[dict[str, str]]:
    return [{"username": world.owner_username}]


def _version_update(world: World) -> dict[str, Any]:
    return {"name": "Renamed", "metadata": {"name": "Renamed", "description": "Changed."}}


MATRIX: dict[tuple[str, str], Spec] = {
    # -- server-wide routes ------------------------------------------------------------------
    ("GET", "/metrics"): Spec(PUBLIC),  # Prometheus; the Ingress does not route it
    ("GET", "/api/info/"): Spec(PUBLIC),
    ("GET", "/api/auth/token/"): Spec(APPROVED),
    ("POST", "/api/auth/token/"): Spec(APPROVED),
    ("GET", "/api/users/me/"): Spec(SIGNED_IN),
    ("GET", "/api/users/search/"): Spec(APPROVED, params={"username": "a"}),
    ("GET", "/api/users/"): Spec(ADMINS),
    ("GET", "/api/stats/"): Spec(PUBLIC),
    ("GET", "/api/schemas/available/"): Spec(PUBLIC),
    ("GET", "/api/schemas/"): Spec(PUBLIC, params={"model": "Dandiset"}),
    ("GET", "/api/audit/events/asset"): Spec(ADMINS),
    ("POST", "/api/blobs/digest/"): Spec(PUBLIC, DIGEST_EMBARGOED, body=_digest),
    # -- uploads: owners start them; an embargoed upload is unknown (404) to non-owners, as
    # DANDI; validating an upload whose bytes never reached S3 is the client's 400.
    ("POST", "/api/uploads/initialize/"): Spec(OWNERS, OWNERS, body=_initialize),
    ("POST", "/api/uploads/{upload_id}/complete/"): Spec(
        APPROVED,
        (401, 403, 404, OK, OK),
        body=lambda _: {"parts": [{"part_number": 1, "size": 10, "etag": "0" * 32}]},
    ),
    ("POST", "/api/uploads/{upload_id}/validate/"): Spec(
        (401, 403, 400, 400, 400), (401, 403, 404, 400, 400)
    ),
    ("GET", "/api/dandisets/"): Spec(PUBLIC),
    ("GET", "/api/dandisets/search/"): Spec(PUBLIC),
    ("GET", "/api/search/species/"): Spec(PUBLIC),
    ("GET", "/api/search/genotypes/"): Spec(PUBLIC),
    ("POST", "/api/dandisets/"): Spec(APPROVED, body=lambda _: {"name": "x", "metadata": {}}),
    # -- one dandiset ------------------------------------------------------------------------
    ("GET", D + "/"): Spec(PUBLIC, OWNERS),
    ("DELETE", D + "/"): Spec(OWNERS, OWNERS),
    ("GET", D + "/users/"): Spec(PUBLIC, OWNERS),
    ("PUT", D + "/users/"): Spec(OWNERS, OWNERS, body=_owners),
    ("POST", D + "/star/"): Spec(APPROVED, OWNERS),
    ("DELETE", D + "/star/"): Spec(APPROVED, OWNERS),
    # A safe method restricted to owners: DANDI's one exception to reads for all.
    ("GET", D + "/uploads/"): Spec(OWNERS, OWNERS),
    ("DELETE", D + "/uploads/"): Spec(OWNERS, OWNERS),
    # Owners only; here the open draft is still Pending (409) and the embargoed one may not be
    # published (400), as on DANDI.
    ("POST", V + "/publish/"): Spec((401, 403, 403, 409, 409), (401, 403, 403, 400, 400)),
    ("POST", D + "/unembargo/"): Spec((401, 403, 403, 400, 400), (401, 403, 403, 400, 400)),
    ("GET", D + "/dois/"): Spec(PUBLIC, OWNERS),
    ("GET", D + "/tombstone/"): Spec(NOBODY, NOBODY),
    # -- versions ----------------------------------------------------------------------------
    ("GET", D + "/versions/"): Spec(PUBLIC, OWNERS),
    ("GET", V + "/"): Spec(PUBLIC, OWNERS),
    ("GET", V + "/info/"): Spec(PUBLIC, OWNERS),
    ("PUT", V + "/"): Spec(OWNERS, OWNERS, body=_version_update),
    # Superusers only: an owner may not delete a published version either.
    ("DELETE", V + "/"): Spec(ADMINS, ADMINS, published=True),
    # -- assets of a version -----------------------------------------------------------------
    ("GET", A + "/"): Spec(PUBLIC, OWNERS),
    ("POST", A + "/"): Spec(OWNERS, OWNERS, body=_new_asset),
    ("GET", A + "/paths/"): Spec(PUBLIC, OWNERS),
    ("GET", A + "/{asset_id}/"): Spec(PUBLIC, OWNERS),
    ("PUT", A + "/{asset_id}/"): Spec(OWNERS, OWNERS, body=_moved_asset),
    ("DELETE", A + "/{asset_id}/"): Spec(OWNERS, OWNERS),
    ("GET", A + "/{asset_id}/info/"): Spec(PUBLIC, OWNERS),
    ("GET", A + "/{asset_id}/validation/"): Spec(PUBLIC, OWNERS),
    ("GET", A + "/{asset_id}/download/"): Spec(PUBLIC, OWNERS),
    # -- assets by id: embargoed blobs only for owners of a dandiset holding them ------------
    ("GET", "/api/assets/{asset_id}/"): Spec(PUBLIC, OWNERS),
    ("GET", "/api/assets/{asset_id}/info/"): Spec(PUBLIC, OWNERS),
    ("GET", "/api/assets/{asset_id}/download/"): Spec(PUBLIC, OWNERS),
    # -- zarr archives: reads as the dandiset's, writes for owners ----------------------------
    ("GET", "/api/zarr/"): Spec(PUBLIC),
    ("POST", "/api/zarr/"): Spec(
        OWNERS,
        OWNERS,
        body=lambda w: {"name": f"{uuid.uuid4()}.zarr", "dandiset": f"{w.dandiset_id:06}"},
    ),
    ("GET", Z + "/"): Spec(PUBLIC, OWNERS),
    ("GET", Z + "/files/"): Spec(PUBLIC, OWNERS),
    ("POST", Z + "/files/"): Spec(
        OWNERS, OWNERS, body=lambda _: [{"path": "0/1", "base64md5": EMPTY_MD5}]
    ),
    ("DELETE", Z + "/files/"): Spec(OWNERS, OWNERS, body=lambda _: [{"path": ZARR_FILE}]),
    ("POST", Z + "/finalize/"): Spec(OWNERS, OWNERS),
    # -- the dandi-webdav path resolver: the dandiset is named in the query ------------------
    ("GET", "/api/webdav/assets/atpath/"): Spec(
        PUBLIC,
        # DANDI raises PermissionDenied in the view body, which DRF leaves a 403 even for the
        # anonymous (only permission classes turn it into a 401).
        (403, 403, 403, OK, OK),
        params={"dandiset_id": "{dandiset_id}", "version_id": "{version}", "children": "true"},
    ),
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route, HEAD twins of GET routes and excluded paths left out."""
    # FastAPI ≥ 0.16x keeps included routers nested; older versions list routes flat.
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = list(iterate(app.routes)) if iterate is not None else list(app.routes)
    pairs = set()
    for route in routes:
        path = getattr(route, "path", None)
        assert isinstance(path, str), f"route without a path: {route!r}"
        if path in EXCLUDED_PATHS or path.startswith(EXCLUDED_PREFIXES):
            continue
        pairs |= {(method, path) for method in getattr(route, "methods", None) or ()}
    return {(m, p) for m, p in pairs if not (m == "HEAD" and ("GET", p) in pairs)}


def _cells() -> Iterator[Any]:
    for (method, path), spec in MATRIX.items():
        worlds: list[tuple[WorldKind, Row]] = [("open", spec.open)]
        if spec.embargoed is not None:
            worlds.append(("embargoed", spec.embargoed))
        for kind, row in worlds:
            for caller, expected in zip(CALLERS, row, strict=True):
                reason = spec.bugs.get((kind, caller))
                marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                yield pytest.param(
                    method,
                    path,
                    kind,
                    caller,
                    expected,
                    marks=marks,
                    id=f"{method} {path}-{kind}-{caller}",
                )


async def build_world(
    session: AsyncSession,
    client: httpx.AsyncClient,
    storage: S3Storage,
    *,
    kind: WorldKind,
    published: bool = False,
    with_bytes: bool = True,
    path: str = "",
) -> World:
    """Users of each kind and a dandiset owned by `owner` holding one asset added via the API.

    `published` adds a published version, which routes then act on; `with_bytes` puts the
    asset's bytes into S3 (only downloads need them, and each upload costs a round trip).
    """
    _, pending_key = await create_user(session, status=UserStatus.PENDING)
    _, approved_key = await create_user(session)
    owner, owner_key = await create_user(session)
    _, admin_key = await create_user(session, admin=True)
    embargoed = kind == "embargoed"
    dandiset, _ = await create_dandiset(
        session,
        owner=owner,
        embargo_status=EmbargoStatus.EMBARGOED if embargoed else EmbargoStatus.OPEN,
    )
    content = f"nwb bytes {uuid.uuid4()}".encode()
    blob = await create_blob(session, content=content)
    spare = await create_blob(session, content=f"spare {uuid.uuid4()}".encode())
    # Blobs uploaded into an embargoed dandiset are embargoed themselves.
    blob.embargoed = spare.embargoed = embargoed
    await session.flush()
    if with_bytes:
        await storage.put(blob_key(blob.id, embargoed=blob.embargoed), content)

    response = await client.post(
        f"/api/dandisets/{dandiset.id:06}/versions/draft/assets/",
        json={"blob_id": str(blob.id), "metadata": {"path": "sub-01/a.nwb"}},
        headers=auth(owner_key),
    )
    assert response.status_code == 200, response.text

    upload = Upload(
        multipart_upload_id="not-started",
        etag=f"{uuid.uuid4().hex}-1",
        size=10,
        dandiset_id=dandiset.id,
        user_id=owner.id,
        embargoed=embargoed,
    )
    session.add(upload)
    zarr = ZarrArchive(dandiset_id=dandiset.id, name="sub-01/b.zarr")
    session.add(zarr)
    await session.flush()
    if path.startswith("/api/zarr/{zarr_id}/files/"):
        await storage.zarr.put(zarr_key(zarr.id, ZARR_FILE), b"")

    version = "draft"
    if published:
        version = "0.240102.0304"
        session.add(
            Version(
                dandiset_id=dandiset.id,
                version=version,
                name="Published",
                metadata_={"name": "Published", "schemaKey": "Dandiset"},
                status=VersionStatus.PUBLISHED,
            )
        )
        await session.flush()

    return World(
        kind=kind,
        keys={
            "anonymous": None,
            "pending": pending_key,
            "approved": approved_key,
            "owner": owner_key,
            "admin": admin_key,
        },
        owner_username=owner.username,
        dandiset_id=dandiset.id,
        version=version,
        asset_id=response.json()["asset_id"],
        blob_id=str(blob.id),
        blob_etag=blob.etag,
        spare_blob_id=str(spare.id),
        upload_id=str(upload.id),
        zarr_id=str(zarr.id),
    )


@pytest.fixture(scope="module")
def app(settings: Settings) -> FastAPI:
    """One app for the whole module: building one per test would be most of the runtime."""
    return create_app(settings)


@pytest.fixture
async def client(app: FastAPI, resources: ApiResources) -> AsyncIterator[httpx.AsyncClient]:
    """Like conftest's `api_client`, on the shared app wired to this test's resources."""
    async with serve(app, resources) as client:
        yield client


def test_matrix_covers_every_route(app: FastAPI) -> None:
    """A route without a matrix entry (or an entry without a route) fails here."""
    routes = app_routes(app)
    assert routes == set(MATRIX), {
        "routes without a matrix entry": sorted(routes - set(MATRIX)),
        "matrix entries without a route": sorted(set(MATRIX) - routes),
    }


@pytest.mark.parametrize(("method", "path", "kind", "caller", "expected"), list(_cells()))
async def test_permission(
    client: httpx.AsyncClient,
    session: AsyncSession,
    storage: S3Storage,
    method: str,
    path: str,
    kind: WorldKind,
    caller: Caller,
    expected: Expect,
) -> None:
    spec = MATRIX[(method, path)]
    world = await build_world(
        session,
        client,
        storage,
        kind=kind,
        published=spec.published,
        with_bytes=path.endswith("/download/"),
        path=path,
    )
    key = world.keys[caller]
    names = world.path_params()
    response = await client.request(
        method,
        path.format(**names),
        params={name: value.format(**names) for name, value in spec.params.items()},
        json=spec.body(world) if spec.body else None,
        headers=auth(key) if key else {},
    )
    status = response.status_code
    detail = f"{method} {path} as {caller} ({kind}): {status} {response.text[:300]}"
    if isinstance(expected, range):
        assert status in expected, detail
    else:
        assert status == expected, detail


def paths_with_their_own_head(app: FastAPI) -> set[str]:
    """Paths where a route of its own answers HEAD, meaning something else than GET."""
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = list(iterate(app.routes)) if iterate is not None else list(app.routes)
    return {
        getattr(route, "path", "")
        for route in routes
        if getattr(route, "methods", None) == {"HEAD"}
    }


def answer(response: httpx.Response, *, length: bool = True) -> tuple[Any, ...]:
    """What HEAD must repeat of GET's answer; the body, which it must leave out."""
    headers = response.headers
    shown = (headers.get("content-type"), headers.get("content-length") if length else None)
    return response.status_code, sorted(headers), shown


async def test_every_get_route_answers_head_as_get(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, storage: S3Storage
) -> None:
    """GET's status and headers, no body: DANDI's views answer HEAD (Django maps it to GET),
    and link checkers and scripts ask it."""
    world = await build_world(session, client, storage, kind="open")
    names, headers = world.path_params(), auth(world.keys["admin"] or "")
    own_head = paths_with_their_own_head(app)
    differing = {}
    for (method, path), spec in MATRIX.items():
        if method != "GET" or path in own_head:
            continue
        url = path.format(**names)
        params = {name: value.format(**names) for name, value in spec.params.items()}
        get = await client.get(url, params=params, headers=headers)
        head = await client.head(url, params=params, headers=headers)
        length = path != "/metrics"  # Prometheus counts the GET: the length moves between them
        if (answer(head, length=length), head.content) != (answer(get, length=length), b""):
            differing[path] = (answer(get), answer(head), head.content[:100])
    assert differing == {}
    assert own_head == {Z + "/files/"}  # HEAD redirects to the file named by `prefix`
