"""DANDI's Zarr API against real S3: create, list, presigned uploads checked by S3, listings,
downloads, deletes, finalize, and read-only snapshots served from S3 object versions."""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

import httpx
import pytest
from arq.jobs import Job, JobStatus
from conftest import auth
from factories import create_dandiset, create_user
from s3 import object_tags
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import EmbargoStatus, UserStatus, ZarrStatus
from dandelion_common.db.models import (
    Dandiset,
    ZarrArchive,
    ZarrSnapshot,
    ZarrSnapshotEntry,
)
from dandelion_common.jobs.contracts import INGEST_ZARR, ZarrRef
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.storage import S3Storage, zarr_key

INGEST_ERROR = "Zarr archive is currently ingesting or has already ingested"
PUBLISHED_ERROR = "A published Zarr archive cannot be changed."


def b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def ident(dandiset: Dandiset) -> str:
    return f"{dandiset.id:06}"


async def new_zarr(
    client: httpx.AsyncClient, key: str, dandiset: Dandiset, name: str = "sub-01/x.ome.zarr"
) -> dict[str, Any]:
    response = await client.post(
        "/api/zarr/", json={"name": name, "dandiset": ident(dandiset)}, headers=auth(key)
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def owned_zarr(
    client: httpx.AsyncClient, session: AsyncSession, *, embargoed: bool = False
) -> tuple[str, str]:
    """A new user's key and the id of a zarr in their dandiset (embargoed if asked)."""
    owner, key = await create_user(session)
    status = EmbargoStatus.EMBARGOED if embargoed else EmbargoStatus.OPEN
    dandiset, _ = await create_dandiset(session, owner=owner, embargo_status=status)
    return key, (await new_zarr(client, key, dandiset))["zarr_id"]


async def put_files(
    client: httpx.AsyncClient, key: str, zarr_id: str, files: dict[str, bytes]
) -> None:
    """What the dandi client does: ask for URLs, then PUT each file with its Content-MD5."""
    body = [{"path": path, "base64md5": b64md5(data)} for path, data in files.items()]
    response = await client.post(f"/api/zarr/{zarr_id}/files/", json=body, headers=auth(key))
    assert response.status_code == 200, response.text
    urls = response.json()
    assert len(urls) == len(files)
    async with httpx.AsyncClient(timeout=60) as s3:
        for url, data in zip(urls, files.values(), strict=True):
            put = await s3.put(url, content=data, headers={"Content-MD5": b64md5(data)})
            assert put.status_code == 200, put.text


async def fetch(location: str) -> bytes:
    async with httpx.AsyncClient(timeout=60) as s3:
        response = await s3.get(location)
        assert response.status_code == 200, response.text
        return response.content


async def download(client: httpx.AsyncClient, zarr_id: str, path: str, **headers: str) -> bytes:
    response = await client.get(
        f"/api/zarr/{zarr_id}/files/", params={"prefix": path, "download": "true"}, headers=headers
    )
    assert response.status_code == 302, response.text
    return await fetch(response.headers["location"])


async def keys(client: httpx.AsyncClient, zarr_id: str, **params: Any) -> list[str]:
    response = await client.get(f"/api/zarr/{zarr_id}/files/", params=params)
    assert response.status_code == 200, response.text
    return [r["Key"] for r in response.json()["results"]]


async def archive_state(session: AsyncSession, zarr_id: str) -> tuple[Any, ...]:
    archive = await session.get(ZarrArchive, uuid.UUID(zarr_id), populate_existing=True)
    assert archive is not None
    return archive.status, archive.checksum, archive.file_count, archive.size


# -- create and read ------------------------------------------------------------------------


async def test_create_answers_a_pending_archive_and_a_duplicate_name_is_refused(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, key = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    created = await new_zarr(api_client, key, dandiset, "sub-01/a.zarr")
    assert created == {
        "name": "sub-01/a.zarr",
        "dandiset": ident(dandiset),
        "zarr_id": created["zarr_id"],
        "status": "Pending",
        "checksum": None,
        "file_count": 0,
        "size": 0,
    }
    again = await api_client.post(
        "/api/zarr/", json={"name": "sub-01/a.zarr", "dandiset": ident(dandiset)}, headers=auth(key)
    )
    assert (again.status_code, again.json()) == (400, ["Zarr already exists"])
    # What the dandi client does next: find the existing one by dandiset and name.
    found = await api_client.get(
        "/api/zarr/", params={"dandiset": ident(dandiset), "name": "sub-01/a.zarr"}
    )
    assert found.json()["results"] == [created]
    fetched = await api_client.get(f"/api/zarr/{created['zarr_id']}/")
    assert (fetched.status_code, fetched.json()) == (200, created)


async def test_create_is_for_approved_owners(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, _ = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    body = {"name": "a.zarr", "dandiset": ident(dandiset)}
    _, stranger = await create_user(session)
    _, pending = await create_user(session, status=UserStatus.PENDING)
    _, admin = await create_user(session, admin=True)
    anonymous = await api_client.post("/api/zarr/", json=body)
    assert anonymous.status_code == 401
    for key in (stranger, pending):
        response = await api_client.post("/api/zarr/", json=body, headers=auth(key))
        assert response.status_code == 403, response.text
    by_admin = await api_client.post("/api/zarr/", json=body, headers=auth(admin))
    assert by_admin.status_code == 200, by_admin.text


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "a.zarr", "dandiset": "999999"}, 404),
        ({"name": "a.zarr", "dandiset": "123"}, 400),
        ({"name": "a.zarr"}, 400),
        ({"name": "", "dandiset": "{d}"}, 400),
        ({"name": "x" * 513, "dandiset": "{d}"}, 400),
        ({"name": "../a.zarr", "dandiset": "{d}"}, 400),
        ({"name": "a/../b.zarr", "dandiset": "{d}"}, 400),
        ({"name": "/a.zarr", "dandiset": "{d}"}, 400),
        ({"name": "a//b.zarr", "dandiset": "{d}"}, 400),
        ({"name": "a\x00.zarr", "dandiset": "{d}"}, 400),
        ({"name": "a\x1b.zarr", "dandiset": "{d}"}, 400),
    ],
)
async def test_bad_creates_are_refused_and_nothing_is_stored(
    api_client: httpx.AsyncClient, session: AsyncSession, body: dict[str, str], status: int
) -> None:
    owner, key = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    sent = {k: v.format(d=ident(dandiset)) if k == "dandiset" else v for k, v in body.items()}
    response = await api_client.post("/api/zarr/", json=sent, headers=auth(key))
    assert response.status_code == status, response.text
    listed = await api_client.get("/api/zarr/", params={"dandiset": ident(dandiset)})
    assert listed.json()["count"] == 0


async def test_no_zarr_is_created_during_unembargo(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, key = await create_user(session)
    dandiset, _ = await create_dandiset(
        session, owner=owner, embargo_status=EmbargoStatus.UNEMBARGOING
    )
    response = await api_client.post(
        "/api/zarr/", json={"name": "a.zarr", "dandiset": ident(dandiset)}, headers=auth(key)
    )
    assert (response.status_code, response.json()) == (
        400,
        "Dandiset modification not allowed during unembargo",
    )


async def test_an_embargoed_dandisets_zarrs_are_its_owners_and_admins_only(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, key = await create_user(session)
    dandiset, _ = await create_dandiset(
        session, owner=owner, embargo_status=EmbargoStatus.EMBARGOED
    )
    zarr = await new_zarr(api_client, key, dandiset)
    _, stranger = await create_user(session)
    _, admin = await create_user(session, admin=True)
    one = f"/api/zarr/{zarr['zarr_id']}/"
    for path in (one, one + "files/"):
        assert (await api_client.get(path)).status_code == 401
        assert (await api_client.get(path, headers=auth(stranger))).status_code == 403
        assert (await api_client.get(path, headers=auth(key))).status_code == 200
        assert (await api_client.get(path, headers=auth(admin))).status_code == 200
    query = {"dandiset": ident(dandiset)}
    for headers, count in (({}, 0), (auth(stranger), 0), (auth(key), 1), (auth(admin), 1)):
        listed = await api_client.get("/api/zarr/", params=query, headers=headers)
        assert listed.json()["count"] == count, headers


async def test_the_list_filters_by_dandiset_and_name_and_pages_as_dandi(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, key = await create_user(session)
    first, _ = await create_dandiset(session, owner=owner)
    second, _ = await create_dandiset(session, owner=owner)
    names = ["a.zarr", "b.zarr", "c.zarr"]
    made = [await new_zarr(api_client, key, first, name) for name in names]
    other = await new_zarr(api_client, key, second, "a.zarr")

    page1 = await api_client.get("/api/zarr/", params={"dandiset": ident(first), "page_size": 2})
    assert page1.json()["count"] == 3
    next_url = page1.json()["next"]
    assert httpx.URL(next_url).params["page"] == "2"
    page2 = await api_client.get(next_url)
    assert page2.json()["next"] is None
    # One test is one transaction, so the archives share `created`: their order is the ids'.
    results = page1.json()["results"] + page2.json()["results"]
    assert results == sorted(made, key=lambda z: z["zarr_id"])

    by_name = await api_client.get("/api/zarr/", params={"name": "a.zarr"})
    ids = {z["zarr_id"] for z in by_name.json()["results"]}
    assert {made[0]["zarr_id"], other["zarr_id"]} <= ids
    assert made[1]["zarr_id"] not in ids
    both = await api_client.get("/api/zarr/", params={"dandiset": ident(second), "name": "a.zarr"})
    assert both.json()["results"] == [other]
    bad = await api_client.get("/api/zarr/", params={"dandiset": "12"})
    assert bad.status_code == 400


@pytest.mark.parametrize("zarr_id", ["not-a-uuid", "00000000-0000-1000-8000-000000000000"])
async def test_ids_that_are_no_v4_uuid_route_nowhere(
    api_client: httpx.AsyncClient, zarr_id: str
) -> None:
    assert (await api_client.get(f"/api/zarr/{zarr_id}/")).status_code == 404


async def test_an_unknown_zarr_is_404(api_client: httpx.AsyncClient) -> None:
    response = await api_client.get(f"/api/zarr/{uuid.uuid4()}/")
    assert (response.status_code, response.json()) == (
        404,
        {"detail": "No ZarrArchive matches the given query."},
    )


# -- files ----------------------------------------------------------------------------------


async def test_files_upload_to_s3_list_download_and_delete(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, key = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    zarr = await new_zarr(api_client, key, dandiset)
    zarr_id = zarr["zarr_id"]
    files = {
        ".zgroup": b'{"zarr_format": 2}',
        "0/.zarray": b'{"chunks": [1]}',
        "0/0": b"chunk 0",
        "0/1": b"chunk one",
        "1/0": b"other chunk",
    }
    await put_files(api_client, key, zarr_id, files)

    listing = await api_client.get(f"/api/zarr/{zarr_id}/files/")
    results = listing.json()["results"]
    assert listing.json()["next"] is None
    assert [r["Key"] for r in results] == sorted(files)
    by_key = {r["Key"]: r for r in results}
    assert by_key["0/1"]["Size"] == len(b"chunk one")
    assert by_key["0/1"]["ETag"] == hashlib.md5(b"chunk one", usedforsecurity=False).hexdigest()
    assert by_key["0/1"]["LastModified"][:4].isdigit()

    assert await keys(api_client, zarr_id, prefix="0/") == ["0/.zarray", "0/0", "0/1"]
    assert await keys(api_client, zarr_id, prefix="0/", after="0/0") == ["0/1"]
    page = await api_client.get(f"/api/zarr/{zarr_id}/files/", params={"prefix": "0/", "limit": 2})
    assert [r["Key"] for r in page.json()["results"]] == ["0/.zarray", "0/0"]
    rest = await api_client.get(page.json()["next"])
    assert httpx.URL(page.json()["next"]).params["after"] == "0/0"
    assert ([r["Key"] for r in rest.json()["results"]], rest.json()["next"]) == (["0/1"], None)
    assert await keys(api_client, zarr_id, limit=0) == []

    assert await download(api_client, zarr_id, "0/1") == b"chunk one"
    head = await api_client.head(f"/api/zarr/{zarr_id}/files/", params={"prefix": "0/0"})
    assert head.status_code == 302
    assert await fetch(head.headers["location"]) == b"chunk 0"
    missing = await api_client.get(
        f"/api/zarr/{zarr_id}/files/", params={"prefix": "0/9", "download": "true"}
    )
    assert missing.status_code == 404

    gone = await api_client.request(
        "DELETE",
        f"/api/zarr/{zarr_id}/files/",
        json=[{"path": "0/0"}, {"path": "1/0"}],
        headers=auth(key),
    )
    assert gone.status_code == 204, gone.text
    assert await keys(api_client, zarr_id) == [".zgroup", "0/.zarray", "0/1"]
    again = await api_client.request(
        "DELETE",
        f"/api/zarr/{zarr_id}/files/",
        json=[{"path": "0/1"}, {"path": "0/0"}],
        headers=auth(key),
    )
    assert (again.status_code, again.json()) == (
        400,
        [f"File {zarr_key(zarr_id, '0/0')} does not exist."],
    )
    # All or nothing: the existing file named with the missing one is still there.
    assert await keys(api_client, zarr_id) == [".zgroup", "0/.zarray", "0/1"]


async def test_s3_refuses_bytes_other_than_those_whose_md5_was_signed(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    key, zarr_id = await owned_zarr(api_client, session)
    body = [{"path": "0/0", "base64md5": b64md5(b"the real bytes")}]
    response = await api_client.post(f"/api/zarr/{zarr_id}/files/", json=body, headers=auth(key))
    (url,) = response.json()
    async with httpx.AsyncClient(timeout=60) as s3:
        forged = await s3.put(
            url, content=b"other bytes", headers={"Content-MD5": b64md5(b"other bytes")}
        )
        assert forged.status_code in (400, 403), forged.text
        lying = await s3.put(
            url, content=b"other bytes", headers={"Content-MD5": body[0]["base64md5"]}
        )
        assert lying.status_code == 400, lying.text
    assert await keys(api_client, zarr_id) == []


async def test_the_client_lists_files_without_the_trailing_slash(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    key, zarr_id = await owned_zarr(api_client, session)
    await put_files(api_client, key, zarr_id, {"a/b": b"1", "c": b"2"})
    url = f"/api/zarr/{zarr_id}/files?prefix=a/"
    moved = await api_client.get(url)
    assert moved.status_code == 301
    assert moved.headers["location"].endswith(f"/api/zarr/{zarr_id}/files/?prefix=a/")
    followed = await api_client.get(url, follow_redirects=True)
    assert [r["Key"] for r in followed.json()["results"]] == ["a/b"]


async def test_an_embargoed_dandisets_files_are_tagged_as_embargoed(
    api_client: httpx.AsyncClient, session: AsyncSession, storage: S3Storage
) -> None:
    key, zarr_id = await owned_zarr(api_client, session, embargoed=True)
    body = [{"path": "0", "base64md5": b64md5(b"secret")}]
    (url,) = (
        await api_client.post(f"/api/zarr/{zarr_id}/files/", json=body, headers=auth(key))
    ).json()
    assert "x-amz-tagging" in httpx.URL(url).params["X-Amz-SignedHeaders"]
    headers = {"Content-MD5": b64md5(b"secret"), "x-amz-tagging": "embargoed=true"}
    async with httpx.AsyncClient(timeout=60) as s3:
        assert (await s3.put(url, content=b"secret", headers=headers)).status_code == 200
    assert await object_tags(storage.zarr, zarr_key(zarr_id, "0")) == {"embargoed": "true"}


@pytest.mark.parametrize(
    "path",
    [
        "../x",
        "a/../b",
        "a/..",
        "./a",
        "/a",
        "a//b",
        "a/",
        "",
        "a\x00b",
        "a\x07b",
        "a\nb",
        "a\\b",  # SeaweedFS would store it as a/b
        "x" * 1025,
        "é" * 500,  # 1,000 characters, but a key over S3's 1,024 bytes
    ],
)
async def test_bad_paths_are_refused(
    api_client: httpx.AsyncClient, session: AsyncSession, path: str
) -> None:
    key, zarr_id = await owned_zarr(api_client, session)
    url = f"/api/zarr/{zarr_id}/files/"
    upload = [{"path": "ok", "base64md5": b64md5(b"x")}, {"path": path, "base64md5": b64md5(b"")}]
    response = await api_client.post(url, json=upload, headers=auth(key))
    assert response.status_code == 400, response.text
    deleted = await api_client.request("DELETE", url, json=[{"path": path}], headers=auth(key))
    assert deleted.status_code == 400, deleted.text
    # No file has such a path; control characters and an over-long prefix are refused as
    # input before that.
    fetched = await api_client.get(url, params={"prefix": path, "download": "true"})
    assert fetched.status_code in (400, 404), fetched.text


@pytest.mark.parametrize(
    "md5",
    ["", "not base64!", base64.b64encode(b"x" * 15).decode(), base64.b64encode(b"x" * 17).decode()],
)
async def test_an_md5_that_is_no_base64_of_16_bytes_is_refused(
    api_client: httpx.AsyncClient, session: AsyncSession, md5: str
) -> None:
    key, zarr_id = await owned_zarr(api_client, session)
    body = [{"path": "0/0", "base64md5": md5}]
    response = await api_client.post(f"/api/zarr/{zarr_id}/files/", json=body, headers=auth(key))
    assert response.status_code == 400
    assert "base64md5" in response.text


async def test_more_than_a_thousand_files_per_request_are_refused(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    key, zarr_id = await owned_zarr(api_client, session)
    url = f"/api/zarr/{zarr_id}/files/"
    md5 = b64md5(b"")
    many = [{"path": f"0/{n}", "base64md5": md5} for n in range(1001)]
    assert (await api_client.post(url, json=many, headers=auth(key))).status_code == 400
    ok = await api_client.post(url, json=many[:1000], headers=auth(key))
    assert (ok.status_code, len(ok.json())) == (200, 1000)
    paths = [{"path": f"0/{n}"} for n in range(1001)]
    refused = await api_client.request("DELETE", url, json=paths, headers=auth(key))
    assert refused.status_code == 400


async def test_only_owners_change_files_or_finalize(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, zarr_id = await owned_zarr(api_client, session)
    _, stranger = await create_user(session)
    url = f"/api/zarr/{zarr_id}/"
    writes = [
        ("POST", url + "files/", [{"path": "0", "base64md5": b64md5(b"")}]),
        ("DELETE", url + "files/", [{"path": "0"}]),
        ("POST", url + "finalize/", None),
    ]
    for method, path, body in writes:
        assert (await api_client.request(method, path, json=body)).status_code == 401
        refused = await api_client.request(method, path, json=body, headers=auth(stranger))
        assert refused.status_code == 403, refused.text
    assert await archive_state(session, zarr_id) == (ZarrStatus.PENDING, None, 0, 0)


# -- finalize -------------------------------------------------------------------------------


async def test_finalize_moves_pending_to_uploaded_once_and_asks_for_the_ingest(
    api_client: httpx.AsyncClient, session: AsyncSession, job_queue: JobQueue
) -> None:
    key, zarr_id = await owned_zarr(api_client, session)
    await put_files(api_client, key, zarr_id, {"0": b"zero"})
    url = f"/api/zarr/{zarr_id}/"

    done = await api_client.post(url + "finalize/", headers=auth(key))
    assert done.status_code == 204, done.text
    assert (await api_client.get(url)).json()["status"] == "Uploaded"
    job_id = INGEST_ZARR.job_id(ZarrRef(zarr_id=uuid.UUID(zarr_id)))
    assert job_id is not None
    job = Job(job_id, job_queue.redis, _queue_name=INGEST_ZARR.queue_name)
    assert await job.status() == JobStatus.queued

    for status in (ZarrStatus.UPLOADED, ZarrStatus.INGESTING):
        archive = await session.get(ZarrArchive, uuid.UUID(zarr_id))
        assert archive is not None
        archive.status = status
        await session.flush()
        for method, path, body in [
            ("POST", url + "finalize/", None),
            ("POST", url + "files/", [{"path": "1", "base64md5": b64md5(b"")}]),
            ("DELETE", url + "files/", [{"path": "0"}]),
        ]:
            refused = await api_client.request(method, path, json=body, headers=auth(key))
            assert (refused.status_code, refused.json()) == (400, INGEST_ERROR), (status, path)


async def test_changing_files_of_a_complete_archive_makes_it_pending_again(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    key, zarr_id = await owned_zarr(api_client, session)
    await put_files(api_client, key, zarr_id, {"0": b"zero", "1": b"one"})
    archive = await session.get(ZarrArchive, uuid.UUID(zarr_id))
    assert archive is not None
    complete = (ZarrStatus.COMPLETE, f"{'0' * 32}-2--7", 2, 7)

    async def make_complete() -> None:
        archive.status, archive.checksum, archive.file_count, archive.size = complete
        await session.flush()

    await make_complete()
    finalize = await api_client.post(f"/api/zarr/{zarr_id}/finalize/", headers=auth(key))
    assert (finalize.status_code, finalize.json()) == (400, INGEST_ERROR)
    assert await archive_state(session, zarr_id) == complete
    body = [{"path": "2", "base64md5": b64md5(b"two")}]
    urls = await api_client.post(f"/api/zarr/{zarr_id}/files/", json=body, headers=auth(key))
    assert urls.status_code == 200
    assert await archive_state(session, zarr_id) == (ZarrStatus.PENDING, None, 0, 0)
    await make_complete()
    gone = await api_client.request(
        "DELETE", f"/api/zarr/{zarr_id}/files/", json=[{"path": "1"}], headers=auth(key)
    )
    assert gone.status_code == 204
    assert await archive_state(session, zarr_id) == (ZarrStatus.PENDING, None, 0, 0)


# -- snapshots ------------------------------------------------------------------------------


async def snapshot_of(
    session: AsyncSession, storage: S3Storage, zarr_id: str, checksum: str = "f" * 32 + "-3--9"
) -> ZarrSnapshot:
    """What the ingest does: freeze the archive's current object versions."""
    snapshot = ZarrSnapshot(zarr_id=uuid.UUID(zarr_id), checksum=checksum, file_count=0, size=0)
    session.add(snapshot)
    await session.flush()
    root = zarr_key(zarr_id)
    async for objects in storage.zarr.latest_versions(root):
        for o in objects:
            assert o.version_id is not None
            session.add(
                ZarrSnapshotEntry(
                    snapshot_id=snapshot.id,
                    path=o.key.removeprefix(root),
                    s3_version_id=o.version_id,
                    md5=o.etag,
                    size=o.size,
                    last_modified=o.last_modified,
                )
            )
            snapshot.file_count += 1
            snapshot.size += o.size
    await session.flush()
    return snapshot


async def test_a_snapshot_serves_the_object_versions_it_froze(
    api_client: httpx.AsyncClient, session: AsyncSession, storage: S3Storage
) -> None:
    owner, key = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    zarr = await new_zarr(api_client, key, dandiset)
    zarr_id = zarr["zarr_id"]
    files = {"a_b/0": b"first", "axb/0": b"second", "c": b"old"}
    await put_files(api_client, key, zarr_id, files)
    snapshot = await snapshot_of(session, storage, zarr_id)
    snap_id = str(snapshot.id)

    described = await api_client.get(f"/api/zarr/{snap_id}/")
    assert described.json() == {
        "name": zarr["name"],
        "dandiset": ident(dandiset),
        "zarr_id": snap_id,
        "status": "Complete",
        "checksum": snapshot.checksum,
        "file_count": 3,
        "size": len(b"firstsecondold"),
    }
    live_listing = (await api_client.get(f"/api/zarr/{zarr_id}/files/")).json()["results"]
    snap_listing = (await api_client.get(f"/api/zarr/{snap_id}/files/")).json()
    assert snap_listing == {"next": None, "results": live_listing}
    # `_` is no LIKE wildcard here.
    assert await keys(api_client, snap_id, prefix="a_b/") == ["a_b/0"]
    assert await keys(api_client, snap_id, after="a_b/0") == ["axb/0", "c"]
    page = await api_client.get(f"/api/zarr/{snap_id}/files/", params={"limit": 2})
    assert [r["Key"] for r in page.json()["results"]] == ["a_b/0", "axb/0"]
    rest = await api_client.get(page.json()["next"])
    assert ([r["Key"] for r in rest.json()["results"]], rest.json()["next"]) == (["c"], None)

    # The draft's files change: overwritten, deleted. The snapshot keeps the old bytes.
    await put_files(api_client, key, zarr_id, {"c": b"new bytes"})
    gone = await api_client.request(
        "DELETE", f"/api/zarr/{zarr_id}/files/", json=[{"path": "a_b/0"}], headers=auth(key)
    )
    assert gone.status_code == 204
    assert await download(api_client, zarr_id, "c") == b"new bytes"
    assert await download(api_client, snap_id, "c") == b"old"
    assert await download(api_client, snap_id, "a_b/0") == b"first"
    head = await api_client.head(f"/api/zarr/{snap_id}/files/", params={"prefix": "c"})
    assert await fetch(head.headers["location"]) == b"old"
    assert await keys(api_client, snap_id) == ["a_b/0", "axb/0", "c"]
    missing = await api_client.get(
        f"/api/zarr/{snap_id}/files/", params={"prefix": "zzz", "download": "true"}
    )
    assert missing.status_code == 404

    listed = await api_client.get("/api/zarr/", params={"dandiset": ident(dandiset)})
    assert [z["zarr_id"] for z in listed.json()["results"]] == [zarr_id]


async def test_a_snapshot_cannot_be_changed(
    api_client: httpx.AsyncClient, session: AsyncSession, storage: S3Storage
) -> None:
    key, zarr_id = await owned_zarr(api_client, session)
    await put_files(api_client, key, zarr_id, {"0": b"zero"})
    snap_id = str((await snapshot_of(session, storage, zarr_id)).id)
    _, stranger = await create_user(session)
    url = f"/api/zarr/{snap_id}/"
    writes = [
        ("POST", url + "files/", [{"path": "0", "base64md5": b64md5(b"x")}]),
        ("DELETE", url + "files/", [{"path": "0"}]),
        ("POST", url + "finalize/", None),
    ]
    for method, path, body in writes:
        refused = await api_client.request(method, path, json=body, headers=auth(key))
        assert (refused.status_code, refused.json()) == (400, PUBLISHED_ERROR), path
        foreign = await api_client.request(method, path, json=body, headers=auth(stranger))
        assert foreign.status_code == 403, path
    assert await download(api_client, snap_id, "0") == b"zero"
    assert await archive_state(session, zarr_id) == (ZarrStatus.PENDING, None, 0, 0)


async def test_an_embargoed_snapshot_is_its_dandisets_owners_only(
    api_client: httpx.AsyncClient, session: AsyncSession, storage: S3Storage
) -> None:
    key, zarr_id = await owned_zarr(api_client, session, embargoed=True)
    snap_id = str((await snapshot_of(session, storage, zarr_id)).id)
    _, stranger = await create_user(session)
    for path in (f"/api/zarr/{snap_id}/", f"/api/zarr/{snap_id}/files/"):
        assert (await api_client.get(path)).status_code == 401
        assert (await api_client.get(path, headers=auth(stranger))).status_code == 403
        assert (await api_client.get(path, headers=auth(key))).status_code == 200
