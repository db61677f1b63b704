"""DANDI's upload protocol against real S3: plan, presigned parts, complete, validate, dedup."""

from __future__ import annotations

import os
import uuid
from typing import Any

import httpx
import pytest
from arq.jobs import Job, JobStatus
from conftest import auth
from factories import create_dandiset, create_user, dandi_etag
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import EmbargoStatus
from dandelion_common.db.models import AssetBlob
from dandelion_common.jobs.contracts import COMPUTE_SHA256, BlobRef
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.storage import S3Storage, blob_key

MiB = 1024 * 1024


def initialize_body(data: bytes, dandiset_id: int, etag: str | None = None) -> dict[str, Any]:
    digest = {"algorithm": "dandi:dandi-etag", "value": etag or dandi_etag(data)}
    return {"contentSize": len(data), "digest": digest, "dandiset": f"{dandiset_id:06}"}


async def upload(
    client: httpx.AsyncClient, key: str, plan: dict[str, Any], data: bytes
) -> httpx.Response:
    """What the dandi client does: PUT each part, complete at S3, then validate."""
    parts = []
    async with httpx.AsyncClient(timeout=60) as s3:
        offset = 0
        for part in plan["parts"]:
            chunk = data[offset : offset + part["size"]]
            offset += part["size"]
            response = await s3.put(part["upload_url"], content=chunk)
            assert response.status_code == 200, response.text
            parts.append(
                {
                    "part_number": part["part_number"],
                    "size": len(chunk),
                    "etag": response.headers["ETag"].strip('"'),
                }
            )
        completion = await client.post(
            f"/api/uploads/{plan['upload_id']}/complete/", json={"parts": parts}, headers=auth(key)
        )
        assert completion.status_code == 200, completion.text
        done = await s3.post(completion.json()["complete_url"], content=completion.json()["body"])
        assert done.status_code == 200, done.text
    return await client.post(f"/api/uploads/{plan['upload_id']}/validate/", headers=auth(key))


async def test_two_part_upload_becomes_a_blob_and_is_deduplicated(
    api_client: httpx.AsyncClient, session: AsyncSession, job_queue: JobQueue
) -> None:
    owner, key = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    data = os.urandom(64 * MiB + 123)
    response = await api_client.post(
        "/api/uploads/initialize/", json=initialize_body(data, dandiset.id), headers=auth(key)
    )
    assert response.status_code == 200, response.text
    plan = response.json()
    assert [(p["part_number"], p["size"]) for p in plan["parts"]] == [(1, 64 * MiB), (2, 123)]
    validated = await upload(api_client, key, plan, data)
    assert validated.status_code == 200, validated.text
    assert validated.json() == {
        "blob_id": plan["upload_id"],
        "etag": dandi_etag(data),
        "sha256": None,
        "size": len(data),
    }
    blob = await session.get(AssetBlob, validated.json()["blob_id"])
    assert blob is not None
    job_id = COMPUTE_SHA256.job_id(BlobRef(blob_id=blob.id))
    assert job_id is not None
    assert (
        await Job(job_id, job_queue.redis, _queue_name=COMPUTE_SHA256.queue_name).status()
        == JobStatus.queued
    )

    again = await api_client.post(
        "/api/uploads/initialize/", json=initialize_body(data, dandiset.id), headers=auth(key)
    )
    assert (again.status_code, again.json(), again.headers["Location"]) == (
        409,
        "Blob already exists.",
        plan["upload_id"],
    )


async def initialize(
    client: httpx.AsyncClient, key: str, data: bytes, dandiset_id: int
) -> httpx.Response:
    body = initialize_body(data, dandiset_id)
    return await client.post("/api/uploads/initialize/", json=body, headers=auth(key))


async def uploaded(client: httpx.AsyncClient, key: str, data: bytes, dandiset_id: int) -> str:
    """The blob id of `data` uploaded into the dandiset (no dedup hit expected)."""
    plan = await initialize(client, key, data, dandiset_id)
    assert plan.status_code == 200, plan.text
    validated = await upload(client, key, plan.json(), data)
    assert validated.status_code == 200, validated.text
    return str(validated.json()["blob_id"])


async def test_equal_bytes_embargoed_elsewhere_are_uploaded_again_not_deduplicated(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """A dedup hit never names another dandiset's embargoed blob: that dandiset could not use
    it (the file could never be uploaded) and its id is not the caller's to learn."""
    keeper, keeper_key = await create_user(session)
    hidden, _ = await create_dandiset(session, owner=keeper, embargo_status=EmbargoStatus.EMBARGOED)
    other, other_key = await create_user(session)
    embargoed, _ = await create_dandiset(
        session, owner=other, embargo_status=EmbargoStatus.EMBARGOED
    )
    public, _ = await create_dandiset(session, owner=other)
    data = os.urandom(1000)

    first = await uploaded(api_client, keeper_key, data, hidden.id)
    again = await initialize(api_client, keeper_key, data, hidden.id)
    assert (again.status_code, again.headers["Location"]) == (409, first)  # its own: reused
    own_embargoed = await uploaded(api_client, other_key, data, embargoed.id)
    own_open = await uploaded(api_client, other_key, data, public.id)

    blobs = {
        b: await session.get(AssetBlob, uuid.UUID(b)) for b in (first, own_embargoed, own_open)
    }
    assert len(blobs) == 3
    rows = [(b.embargoed, b.dandiset_id) for b in blobs.values() if b is not None]
    assert rows == [(True, hidden.id), (True, embargoed.id), (False, None)]
    # Once the bytes are open, every dandiset's upload is answered with the open blob.
    reused = await initialize(api_client, keeper_key, data, hidden.id)
    assert (reused.status_code, reused.headers["Location"]) == (409, own_open)


async def test_objects_that_lie_about_size_or_etag_are_refused(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, key = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    claimed = os.urandom(1000)
    plan = (
        await api_client.post(
            "/api/uploads/initialize/",
            json=initialize_body(claimed, dandiset.id),
            headers=auth(key),
        )
    ).json()
    short = await upload(api_client, key, plan, claimed[:900])
    assert (short.status_code, short.json()) == (
        400,
        {"non_field_errors": ["Size 1000 does not match actual size 900."]},
    )
    data = os.urandom(500)
    wrong = "0" * 32 + "-1"
    plan = (
        await api_client.post(
            "/api/uploads/initialize/",
            json=initialize_body(data, dandiset.id, wrong),
            headers=auth(key),
        )
    ).json()
    lied = await upload(api_client, key, plan, data)
    assert lied.status_code == 400
    assert lied.json()["non_field_errors"][0].startswith(f"ETag {wrong} does not match actual ETag")


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"contentSize": 0}, 400),
        ({"digest": {"algorithm": "dandi:sha2-256", "value": "a" * 64}}, 400),
        ({"dandiset": "999998"}, 404),
    ],
)
async def test_bad_initialize_requests(
    api_client: httpx.AsyncClient, session: AsyncSession, change: dict[str, Any], status: int
) -> None:
    owner, key = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    body = {**initialize_body(b"x" * 10, dandiset.id), **change}
    response = await api_client.post("/api/uploads/initialize/", json=body, headers=auth(key))
    assert response.status_code == status, response.text


async def test_only_owners_upload(api_client: httpx.AsyncClient, session: AsyncSession) -> None:
    owner, _ = await create_user(session)
    _, stranger = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    response = await api_client.post(
        "/api/uploads/initialize/",
        json=initialize_body(b"y" * 10, dandiset.id),
        headers=auth(stranger),
    )
    assert (response.status_code, response.json()) == (403, {"detail": "Action not allowed"})


async def test_embargoed_uploads_are_never_readable_without_a_signature(
    api_client: httpx.AsyncClient, session: AsyncSession, storage: S3Storage
) -> None:
    owner, key = await create_user(session)
    dandiset, _ = await create_dandiset(
        session, owner=owner, embargo_status=EmbargoStatus.EMBARGOED
    )
    data = os.urandom(2000)
    plan = (
        await api_client.post(
            "/api/uploads/initialize/", json=initialize_body(data, dandiset.id), headers=auth(key)
        )
    ).json()
    validated = await upload(api_client, key, plan, data)
    assert validated.status_code == 200, validated.text
    blob = await session.get(AssetBlob, validated.json()["blob_id"])
    assert blob is not None
    assert blob.embargoed
    async with httpx.AsyncClient() as anonymous:
        assert (
            await anonymous.get(storage.object_url(blob_key(blob.id, embargoed=True)))
        ).status_code == 403
        signed = await anonymous.get(await storage.presign_get(blob_key(blob.id, embargoed=True)))
    assert signed.content == data
