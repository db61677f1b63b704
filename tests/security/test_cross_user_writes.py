"""One user's token on another user's dandiset, on every write route of the app.

The write routes are read from the app's route table, so a new one is attacked here as soon
as it exists (or, if it acts on no dandiset in its path, fails
`test_every_write_route_is_classified` until someone says why it is safe). The attacker is a
full approved user who owns a dandiset of their own, and each request carries a body that
would succeed for the victim, so only authorization stands in the way; the victim's
dandiset must be unchanged afterwards. Who may call what in general is
tests/api/test_permissions.py's matrix; embargoed reads are tests/api/test_embargo.py's.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import fastapi.routing
import httpx
import pytest
from factories import create_blob
from fastapi import FastAPI
from security.world import Owned, owned
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import VersionStatus, ZarrStatus
from dandelion_common.db.models import (
    AssetBlob,
    Dandiset,
    DandisetOwner,
    DandisetStar,
    Upload,
    Version,
    VersionAsset,
    ZarrArchive,
    ZarrSnapshot,
)
from dandelion_common.storage import S3Storage, zarr_key

Kind = Literal["open", "embargoed"]
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLISHED = "0.240102.0304"
ZARR_FILE = "0/0"  # the one file of the victim's zarr archive
ZARR_MD5 = base64.b64encode(hashlib.md5(b"chunk", usedforsecurity=False).digest()).decode()
D = "/api/dandisets/{dandiset_id}"
V = D + "/versions/{version}"

# Writes that act on no dandiset of another user, and why.
OWN_ACCOUNT = {
    ("POST", "/api/dandisets/"): "creates a dandiset owned by the caller",
    ("POST", "/api/auth/token/"): "replaces the caller's own key",
    ("POST", "/api/blobs/digest/"): "a lookup by digest (POST for its body); writes nothing",
    ("POST", "/api/uploads/initialize/"): "names its dandiset in the body: attacked below",
    ("POST", "/api/zarr/"): "names its dandiset in the body: attacked below",
}
# The caller's own star, on a dandiset the caller can see: as on DANDI, any approved user
# may star an open dandiset.
OWN_STAR = {("POST", D + "/star/"), ("DELETE", D + "/star/")}
# As on DANDI, an open upload is completed and validated by whoever holds its id, a random
# UUID handed only to the uploader (and listed only to the dandiset's owners); neither
# changes the dandiset. An embargoed upload is unknown (404) to others.
BY_UPLOAD_ID = {
    ("POST", "/api/uploads/{upload_id}/complete/"),
    ("POST", "/api/uploads/{upload_id}/validate/"),
}
# Writes on a zarr archive (or a snapshot of one) by its id: the dandiset is the archive's.
# Attacked below, on a live archive and on a snapshot of it.
Z = "/api/zarr/{zarr_id}"
OWN_ZARR_WRITE = {
    ("POST", Z + "/files/"): 200,
    ("DELETE", Z + "/files/"): 204,
    ("POST", Z + "/finalize/"): 400,
}
BY_ZARR_ID = set(OWN_ZARR_WRITE)


@dataclass
class Scene:
    attacker: Owned
    victim: Owned
    upload_id: uuid.UUID

    def path_params(self, method: str, path: str) -> dict[str, str]:
        # Deleting a version only applies to published ones (admins only): aim at one.
        version = PUBLISHED if (method, path) == ("DELETE", V + "/") else "draft"
        return {
            "dandiset_id": self.victim.identifier,
            "version": version,
            "asset_id": str(self.victim.asset.id),
            "upload_id": str(self.upload_id),
        }


# A body the victim's own request could carry, for each write route that takes one. A route
# with a body and no entry fails test_every_write_route_is_classified.
BODIES: dict[tuple[str, str], Callable[[Scene], Any]] = {
    ("PUT", D + "/users/"): lambda s: [
        {"username": s.attacker.user.username},
        {"username": s.victim.user.username},
    ],
    ("PUT", V + "/"): lambda s: {
        "name": "Taken over",
        "metadata": {"name": "Taken over", "description": "Not by its owner."},
    },
    ("POST", V + "/publish/"): lambda s: None,
    ("POST", V + "/assets/"): lambda s: {
        "blob_id": str(s.attacker.spare_blob.id),
        "metadata": {"path": "planted.nwb"},
    },
    ("PUT", V + "/assets/{asset_id}/"): lambda s: {
        "blob_id": str(s.attacker.spare_blob.id),
        "metadata": {"path": "moved.nwb"},
    },
    ("POST", "/api/uploads/{upload_id}/complete/"): lambda s: {
        "parts": [{"part_number": 1, "size": 10, "etag": "0" * 32}]
    },
    ("POST", "/api/uploads/initialize/"): lambda s: {
        "contentSize": 10,
        "digest": {"algorithm": "dandi:dandi-etag", "value": f"{uuid.uuid4().hex}-1"},
        "dandiset": s.victim.identifier,
    },
    ("POST", "/api/dandisets/"): lambda s: {"name": "Mine", "metadata": {}},
    ("POST", "/api/blobs/digest/"): lambda s: {"algorithm": "dandi:dandi-etag", "value": "x"},
    ("POST", "/api/zarr/"): lambda s: {"name": "planted.zarr", "dandiset": s.victim.identifier},
    ("POST", Z + "/files/"): lambda s: [{"path": ZARR_FILE, "base64md5": ZARR_MD5}],
    ("DELETE", Z + "/files/"): lambda s: [{"path": ZARR_FILE}],
}


def body_for(method: str, path: str, s: Scene) -> Any:
    make = BODIES.get((method, path))
    return make(s) if make else None


def write_routes(app: FastAPI) -> dict[tuple[str, str], bool]:
    """(method, path) of every write route, and whether it takes a body."""
    # FastAPI ≥ 0.16x keeps included routers nested; older versions list routes flat.
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = list(iterate(app.routes)) if iterate is not None else list(app.routes)
    found = {}
    for route in routes:
        path = getattr(route, "path", None)
        assert isinstance(path, str), f"route without a path: {route!r}"
        for method in set(getattr(route, "methods", None) or ()) & WRITE_METHODS:
            found[(method, path)] = getattr(route, "body_field", None) is not None
    return found


def on_a_dandiset(app: FastAPI) -> list[tuple[str, str]]:
    return sorted(r for r in write_routes(app) if "{dandiset_id}" in r[1] or r in BY_UPLOAD_ID)


async def scene(session: AsyncSession, kind: Kind) -> Scene:
    attacker = await owned(session)
    victim = await owned(session, embargoed=kind == "embargoed")
    session.add(
        Version(
            dandiset_id=victim.dandiset.id,
            version=PUBLISHED,
            name="Published",
            metadata_={"name": "Published", "schemaKey": "Dandiset"},
            status=VersionStatus.PUBLISHED,
        )
    )
    upload = Upload(
        multipart_upload_id="not-started",
        etag=f"{uuid.uuid4().hex}-1",
        size=10,
        dandiset_id=victim.dandiset.id,
        user_id=victim.user.id,
        embargoed=kind == "embargoed",
    )
    session.add(upload)
    await session.flush()
    return Scene(attacker, victim, upload.id)


async def state(session: AsyncSession, dandiset_id: int) -> dict[str, Any]:
    """Everything of a dandiset a write could change, read fresh (not from the ORM's map)."""

    async def rows(query: Any) -> list[Any]:
        return sorted(tuple(row) for row in await session.execute(query))

    versions = select(
        Version.version, Version.name, Version.metadata_, Version.status, Version.asset_count
    ).where(Version.dandiset_id == dandiset_id)
    members = (
        select(VersionAsset.version_id, VersionAsset.asset_id, VersionAsset.path)
        .join(Version, Version.id == VersionAsset.version_id)
        .where(Version.dandiset_id == dandiset_id)
    )
    return {
        "dandiset": await rows(select(Dandiset.embargo_status).where(Dandiset.id == dandiset_id)),
        "owners": await rows(
            select(DandisetOwner.user_id).where(DandisetOwner.dandiset_id == dandiset_id)
        ),
        "versions": await rows(versions),
        "assets": await rows(members),
        "uploads": await rows(select(Upload.id).where(Upload.dandiset_id == dandiset_id)),
        "stars": await session.scalar(
            select(func.count()).where(DandisetStar.dandiset_id == dandiset_id)
        ),
    }


def test_every_write_route_is_classified(app: FastAPI) -> None:
    """A write route must act on a dandiset in its path (and be attacked below), or be named
    in OWN_ACCOUNT with the reason it touches no one else's data; with a body, it must have
    an entry in BODIES."""
    routes = write_routes(app)
    unclassified = {
        r
        for r in routes
        if "{dandiset_id}" not in r[1] and r not in BY_UPLOAD_ID | BY_ZARR_ID | OWN_ACCOUNT.keys()
    }
    assert not unclassified, f"write routes to classify: {sorted(unclassified)}"
    without_body = sorted(r for r, takes_body in routes.items() if takes_body and r not in BODIES)
    assert not without_body, f"write routes needing a body in BODIES: {without_body}"
    stale = sorted((OWN_ACCOUNT.keys() | OWN_STAR | BY_UPLOAD_ID | BY_ZARR_ID) - routes.keys())
    assert not stale, f"entries naming no route: {stale}"


def _cells() -> list[Any]:
    from dandelion_api.app import create_app
    from dandelion_common.settings import Settings

    routes = on_a_dandiset(create_app(Settings()))
    return [
        pytest.param(method, path, kind, id=f"{method} {path}-{kind}")
        for method, path in routes
        for kind in ("open", "embargoed")
    ]


@pytest.mark.parametrize(("method", "path", "kind"), _cells())
async def test_a_write_on_another_users_dandiset_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, method: str, path: str, kind: Kind
) -> None:
    s = await scene(session, kind)
    before = await state(session, s.victim.dandiset.id)
    body = body_for(method, path, s)
    response = await client.request(
        method,
        path.format(**s.path_params(method, path)),
        json=body,
        headers=s.attacker.headers,
    )
    after = await state(session, s.victim.dandiset.id)
    detail = f"{method} {path} ({kind}): {response.status_code} {response.text[:300]}"
    allowed = kind == "open" and (method, path) in OWN_STAR | BY_UPLOAD_ID
    if allowed:
        assert response.status_code < 500, detail
        after["stars"] = before["stars"]  # the attacker's own star comes and goes
    else:
        assert response.status_code in (403, 404), detail
    assert after == before, detail


async def test_initializing_an_upload_into_another_users_dandiset_is_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    for kind in ("open", "embargoed"):
        s = await scene(session, kind)
        before = await state(session, s.victim.dandiset.id)
        body = BODIES[("POST", "/api/uploads/initialize/")](s)
        response = await client.post(
            "/api/uploads/initialize/", json=body, headers=s.attacker.headers
        )
        assert response.status_code in (403, 404), response.text
        assert await state(session, s.victim.dandiset.id) == before


async def test_creating_a_zarr_in_another_users_dandiset_is_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    for kind in ("open", "embargoed"):
        s = await scene(session, kind)
        body = BODIES[("POST", "/api/zarr/")](s)
        response = await client.post("/api/zarr/", json=body, headers=s.attacker.headers)
        assert response.status_code in (403, 404), response.text
        held = select(func.count()).where(ZarrArchive.dandiset_id == s.victim.dandiset.id)
        assert await session.scalar(held) == 0


async def victims_zarr(session: AsyncSession, storage: S3Storage, victim: Owned) -> ZarrArchive:
    """A Complete archive of the victim's with one file in S3, and a snapshot of it."""
    archive = ZarrArchive(
        dandiset_id=victim.dandiset.id,
        name=f"sub-01/{uuid.uuid4()}.zarr",
        status=ZarrStatus.COMPLETE,
        checksum=f"{'0' * 32}-1--5",
        file_count=1,
        size=5,
    )
    session.add(archive)
    await session.flush()
    await storage.zarr.put(zarr_key(archive.id, ZARR_FILE), b"chunk")
    snapshot = ZarrSnapshot(zarr_id=archive.id, checksum=archive.checksum, file_count=1, size=5)
    session.add(snapshot)
    await session.flush()
    archive.snapshot_id = snapshot.id
    await session.flush()
    return archive


async def zarr_state(
    session: AsyncSession, storage: S3Storage, archive: ZarrArchive
) -> tuple[Any, ...]:
    row = (
        await session.execute(
            select(ZarrArchive.status, ZarrArchive.checksum, ZarrArchive.size).where(
                ZarrArchive.id == archive.id
            )
        )
    ).one()
    files, _ = await storage.zarr.list_page(zarr_key(archive.id))
    return tuple(row), [(f.key, f.etag) for f in files]


@pytest.mark.parametrize(("method", "path"), sorted(BY_ZARR_ID))
@pytest.mark.parametrize("kind", ["open", "embargoed"])
@pytest.mark.parametrize("target", ["archive", "snapshot"])
async def test_a_write_on_another_users_zarr_is_refused(
    client: httpx.AsyncClient,
    session: AsyncSession,
    storage: S3Storage,
    method: str,
    path: str,
    kind: Kind,
    target: str,
) -> None:
    s = await scene(session, kind)
    archive = await victims_zarr(session, storage, s.victim)
    zarr_id = archive.id if target == "archive" else archive.snapshot_id
    before = await zarr_state(session, storage, archive)
    response = await client.request(
        method,
        path.format(zarr_id=zarr_id),
        json=body_for(method, path, s),
        headers=s.attacker.headers,
    )
    assert response.status_code in (403, 404), f"{method} {path}: {response.text}"
    assert await zarr_state(session, storage, archive) == before
    # The control: the victim's own request gets past authorization (a snapshot is read-only
    # to everyone; a Complete archive is no longer finalized).
    own = await client.request(
        method,
        path.format(zarr_id=zarr_id),
        json=body_for(method, path, s),
        headers=s.victim.headers,
    )
    expected = 400 if target == "snapshot" else OWN_ZARR_WRITE[method, path]
    assert own.status_code == expected, own.text


@pytest.mark.parametrize(
    ("method", "path"),
    [r for r in BODIES if "{asset_id}" in r[1]] + [("DELETE", V + "/assets/{asset_id}/")],
)
@pytest.mark.parametrize("kind", ["open", "embargoed"])
async def test_another_users_asset_cannot_be_reached_through_ones_own_dandiset(
    client: httpx.AsyncClient, session: AsyncSession, method: str, path: str, kind: Kind
) -> None:
    s = await scene(session, kind)
    before = await state(session, s.victim.dandiset.id)
    params = {**s.path_params(method, path), "dandiset_id": s.attacker.identifier}
    body = body_for(method, path, s)
    response = await client.request(
        method, path.format(**params), json=body, headers=s.attacker.headers
    )
    assert response.status_code == 404, response.text
    assert await state(session, s.victim.dandiset.id) == before


async def embargoed_blob_of(session: AsyncSession, victim: Owned) -> AssetBlob:
    blob = await session.get(AssetBlob, victim.asset.blob_id)
    assert blob is not None
    assert blob.embargoed
    return blob


@pytest.mark.parametrize("method", ["POST", "PUT"])
async def test_an_embargoed_blob_cannot_be_put_into_ones_own_dandiset(
    client: httpx.AsyncClient, session: AsyncSession, method: str
) -> None:
    # Attached to the attacker's dandiset, the victim's embargoed bytes would be theirs to
    # download (the asset download presigns the blob's embargoed key).
    s = await scene(session, "embargoed")
    blob = await embargoed_blob_of(session, s.victim)
    url = f"/api/dandisets/{s.attacker.identifier}/versions/draft/assets/"
    if method == "PUT":
        url += f"{s.attacker.asset.id}/"
    body = {"blob_id": str(blob.id), "metadata": {"path": "stolen.nwb"}}
    response = await client.request(method, url, json=body, headers=s.attacker.headers)
    assert response.status_code == 404, response.text
    held = select(func.count()).select_from(VersionAsset).where(VersionAsset.path == "stolen.nwb")
    assert await session.scalar(held) == 0


async def test_an_embargoed_blob_moves_within_its_dandiset_and_a_fresh_one_joins_its_own(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """The refusals above are not blanket: the owner renames an embargoed asset, and adds a
    freshly uploaded embargoed blob (in no version yet) to their embargoed dandiset, but not
    to an open one."""
    s = await scene(session, "embargoed")
    blob = await embargoed_blob_of(session, s.victim)
    base = f"/api/dandisets/{s.victim.identifier}/versions/draft/assets/"
    renamed = await client.put(
        f"{base}{s.victim.asset.id}/",
        json={"blob_id": str(blob.id), "metadata": {"path": "renamed.nwb"}},
        headers=s.victim.headers,
    )
    assert renamed.status_code == 200, renamed.text
    fresh = await create_blob(session, content=f"fresh {uuid.uuid4()}".encode())
    fresh.embargoed = True
    await session.flush()
    body = {"blob_id": str(fresh.id), "metadata": {"path": "fresh.nwb"}}
    into_open = await client.post(
        f"/api/dandisets/{s.attacker.identifier}/versions/draft/assets/",
        json=body,
        headers=s.attacker.headers,
    )
    assert into_open.status_code == 404, into_open.text
    added = await client.post(base, json=body, headers=s.victim.headers)
    assert added.status_code == 200, added.text


async def test_a_fresh_embargoed_blob_joins_only_the_dandiset_it_was_uploaded_to(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """A blob uploaded into one embargoed dandiset, in no version yet, is refused by another
    embargoed dandiset: its id would otherwise open the bytes to that dandiset's owners."""
    s = await scene(session, "embargoed")
    other = await owned(session, embargoed=True)
    fresh = await create_blob(session, content=f"fresh {uuid.uuid4()}".encode())
    fresh.embargoed, fresh.dandiset_id = True, s.victim.dandiset.id
    await session.flush()
    body = {"blob_id": str(fresh.id), "metadata": {"path": "fresh.nwb"}}
    elsewhere = await client.post(
        f"/api/dandisets/{other.dandiset.id:06}/versions/draft/assets/",
        json=body,
        headers=other.headers,
    )
    assert elsewhere.status_code == 404, elsewhere.text
    added = await client.post(
        f"/api/dandisets/{s.victim.identifier}/versions/draft/assets/",
        json=body,
        headers=s.victim.headers,
    )
    assert added.status_code == 200, added.text
