"""S3 unreachable (refusing connections, or accepting them and never answering): the upload
routes answer 503 with Retry-After within the S3 timeout, create no half rows and keep the
upload in progress, which completes once S3 is back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from factories import dandi_etag
from faults.proxy import TcpProxy
from faults.stack import Services, approved_key, send_upload
from sqlalchemy import func, select

from dandelion_common.db.models import AssetBlob, Upload
from dandelion_common.db.session import Database
from dandelion_common.devstack.ephemeral import ServerUrls

pytestmark = pytest.mark.slow  # starts service processes and waits for recoveries

DATA = b"lfp " * 2000
S3_TIMEOUT_SECONDS = 2


@pytest.fixture
def s3_proxy(servers: ServerUrls) -> Iterator[TcpProxy]:
    s3 = urlsplit(servers.s3)
    assert s3.hostname is not None
    assert s3.port is not None
    with TcpProxy(s3.hostname, s3.port) as proxy:
        yield proxy


@pytest.fixture
async def client(
    services: Services, s3_proxy: TcpProxy, database: str
) -> AsyncIterator[httpx.AsyncClient]:
    services.env |= {
        "DANDELION_S3__ENDPOINT_URL": s3_proxy.url,
        "DANDELION_S3__TIMEOUT_SECONDS": str(S3_TIMEOUT_SECONDS),
    }
    api = services.start_api()
    headers = {"Authorization": f"token {await approved_key(database)}"}
    # Far past what the API needs (two tries of the S3 timeout): a hang fails the test.
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=60) as http:
        yield http


async def rows(db: Database) -> tuple[int, int]:
    """How many uploads and blobs the database holds."""
    async with db.session() as session:
        uploads = await session.scalar(select(func.count()).select_from(Upload))
        blobs = await session.scalar(select(func.count()).select_from(AssetBlob))
        return int(uploads or 0), int(blobs or 0)


def initialize_body(dandiset: str, data: bytes) -> dict[str, object]:
    digest = {"algorithm": "dandi:dandi-etag", "value": dandi_etag(data)}
    return {"contentSize": len(data), "digest": digest, "dandiset": dandiset}


def unavailable(answer: httpx.Response) -> bool:
    return answer.status_code == 503 and "Retry-After" in answer.headers


async def unavailable_meanwhile(
    client: httpx.AsyncClient, services: Services, db: Database, dandiset: str, upload_id: str
) -> None:
    """Both upload calls that reach S3 answer 503 and change no row; readiness says why."""
    before = await rows(db)
    initialized = await client.post("/uploads/initialize/", json=initialize_body(dandiset, b"x"))
    assert unavailable(initialized), initialized.text
    validated = await client.post(f"/uploads/{upload_id}/validate/")
    assert unavailable(validated), validated.text
    assert await rows(db) == before  # no new upload, no blob, the waiting upload kept
    async with httpx.AsyncClient(timeout=60) as probe:
        ready = await probe.get(f"{services.base}/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["s3"].startswith("error")


async def test_uploads_answer_503_and_leave_no_half_rows_while_s3_is_unreachable(
    services: Services, client: httpx.AsyncClient, s3_proxy: TcpProxy, private_db: Database
) -> None:
    created = await client.post("/dandisets/", json={"name": "S3 outage", "metadata": {}})
    dandiset = created.json()["identifier"]
    for outage in (s3_proxy.refuse, s3_proxy.blackhole):
        data = f"{outage.__name__} ".encode() + DATA
        upload_id = await send_upload(client, dandiset, data)  # sent, waiting for validation
        outage()
        await unavailable_meanwhile(client, services, private_db, dandiset, upload_id)

        s3_proxy.forward()
        validated = await client.post(f"/uploads/{upload_id}/validate/")
        assert validated.status_code == 200, validated.text  # the upload waited for S3
    assert await rows(private_db) == (0, 2)
