"""Stats, metadata schemas, the asset audit feed and blob lookup, in DANDI's shapes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import auth
from factories import create_asset, create_blob, create_dandiset, create_user
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import EmbargoStatus, UserStatus, VersionStatus
from dandelion_common.db.models import Asset, AuditRecord, Version, VersionAsset
from dandelion_common.schema import SCHEMA_VERSION
from dandelion_common.settings import Settings

# Stats


async def test_stats_counts_live_rows(api_client: httpx.AsyncClient, session: AsyncSession) -> None:
    before = (await api_client.get("/api/stats/")).json()
    owner, _ = await create_user(session)  # approved: counted
    await create_user(session, status=UserStatus.PENDING)  # not counted
    _, draft_a = await create_dandiset(session, owner=owner)
    dandiset_b, draft_b = await create_dandiset(session, owner=owner)
    shared = await create_blob(session, content=b"x" * 10)
    await create_asset(session, version=draft_a, path="a.nwb", blob=shared)
    asset_b = await create_asset(session, version=draft_b, path="b.nwb", blob=shared)
    published = Version(
        dandiset_id=dandiset_b.id,
        version="0.240101.1200",
        name="B",
        metadata_={},
        status=VersionStatus.PUBLISHED,
    )
    session.add(published)
    await session.flush()
    session.add(VersionAsset(version_id=published.id, asset_id=asset_b.id, path="b.nwb"))
    await create_blob(session, content=b"y" * 1000)  # in no asset: not counted
    orphan_blob = await create_blob(session, content=b"z" * 500)
    session.add(Asset(path="orphan.nwb", blob_id=orphan_blob.id, metadata_={}))  # in no version
    await session.flush()

    response = await api_client.get("/api/stats/")

    assert response.status_code == 200
    after = response.json()
    assert set(after) == {"dandiset_count", "published_dandiset_count", "user_count", "size"}
    assert after["dandiset_count"] - before["dandiset_count"] == 2
    assert after["published_dandiset_count"] - before["published_dandiset_count"] == 1
    assert after["user_count"] - before["user_count"] == 1
    assert after["size"] - before["size"] == 10  # the shared blob once


# Schemas


async def test_available_schemas(api_client: httpx.AsyncClient) -> None:
    response = await api_client.get("/api/schemas/available/")
    assert response.status_code == 200
    assert response.json() == ["Dandiset", "Asset", "PublishedDandiset", "PublishedAsset"]


@pytest.mark.parametrize("model", ["Dandiset", "Asset", "PublishedDandiset", "PublishedAsset"])
async def test_schema_is_dandischemas(api_client: httpx.AsyncClient, model: str) -> None:
    from dandischema import models
    from dandischema.utils import TransitionalGenerateJsonSchema

    response = await api_client.get("/api/schemas/", params={"model": model})

    assert response.status_code == 200
    expected = getattr(models, model).model_json_schema(
        schema_generator=TransitionalGenerateJsonSchema
    )
    assert response.json() == expected


async def test_schema_applies_the_instance_config(
    api_client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await api_client.get("/api/schemas/", params={"model": "Dandiset"})
    identifier = response.json()["properties"]["identifier"]
    assert identifier["pattern"] == rf"^{settings.instance.name}:\d{{6}}$"


async def test_schema_of_the_servers_version(api_client: httpx.AsyncClient) -> None:
    params = {"model": "Asset", "version": SCHEMA_VERSION}
    response = await api_client.get("/api/schemas/", params=params)
    assert response.status_code == 200
    assert response.json()["title"] == "Asset"


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({}, {"model": ["This field is required."]}),
        ({"model": "Zarr"}, {"model": ['"Zarr" is not a valid choice.']}),
        (
            {"model": "Dandiset", "version": "0.1.0"},
            f"Invalid schema version 0.1.0. Server schema version is {SCHEMA_VERSION}",
        ),
    ],
)
async def test_schema_refuses(
    api_client: httpx.AsyncClient, params: dict[str, str], error: object
) -> None:
    response = await api_client.get("/api/schemas/", params=params)
    assert response.status_code == 400
    assert response.json() == error


async def test_routes_are_tagged(api_client: httpx.AsyncClient) -> None:
    paths = (await api_client.get("/api/docs/openapi.json")).json()["paths"]
    assert paths["/api/stats/"]["get"]["tags"] == ["info"]
    assert paths["/api/schemas/"]["get"]["tags"] == ["info"]
    assert paths["/api/schemas/available/"]["get"]["tags"] == ["info"]
    assert paths["/api/audit/events/asset"]["get"]["tags"] == ["audit"]
    assert paths["/api/blobs/digest/"]["post"]["tags"] == ["blobs"]


# Audit events

# Far from any other test's records, and every request stays within this window.
T0 = datetime(2031, 5, 5, 12, 0, tzinfo=UTC)
WINDOW = {"after": T0.isoformat(), "before": (T0 + timedelta(days=1)).isoformat()}
AUDIT_URL = "/api/audit/events/asset"


async def _audit(session: AsyncSession, minutes: int, record_type: str = "add_asset") -> int:
    record = AuditRecord(
        timestamp=T0 + timedelta(minutes=minutes),
        dandiset_id=7,
        username="ada",
        user_email="ada@example.org",
        user_fullname="Ada Lovelace",
        record_type=record_type,
        details={"path": f"f{minutes}.nwb", "asset_id": "a", "metadata": {"big": True}},
    )
    session.add(record)
    await session.flush()
    return record.id


async def _admin(session: AsyncSession) -> dict[str, str]:
    _, key = await create_user(session, admin=True)
    return auth(key)


async def _pages(client: httpx.AsyncClient, headers: dict[str, str], url: str) -> list[Any]:
    """Follow `next` links to the end; returns each page's body."""
    pages = []
    next_url: str | None = url
    while next_url is not None:
        response = await client.get(next_url, headers=headers)
        assert response.status_code == 200
        pages.append(response.json())
        next_url = pages[-1]["next"]
    return pages


async def test_audit_needs_credentials(api_client: httpx.AsyncClient) -> None:
    response = await api_client.get(AUDIT_URL)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


async def test_audit_is_for_admins(api_client: httpx.AsyncClient, session: AsyncSession) -> None:
    _, key = await create_user(session)
    await session.flush()
    assert (await api_client.get(AUDIT_URL, headers=auth(key))).status_code == 403


async def test_audit_lists_asset_events_without_metadata(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    headers = await _admin(session)
    added = await _audit(session, 1, "add_asset")
    updated = await _audit(session, 2, "update_asset")
    removed = await _audit(session, 3, "remove_asset")
    await _audit(session, 4, "publish_dandiset")  # not an asset event

    response = await api_client.get(AUDIT_URL, params=WINDOW, headers=headers)

    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None
    assert body["previous"] is None
    assert [e["id"] for e in body["results"]] == [added, updated, removed]
    assert body["results"][0] == {
        "id": added,
        "dandiset_id": 7,
        "timestamp": "2031-05-05T12:01:00Z",
        "record_type": "add_asset",
        "details": {"path": "f1.nwb", "asset_id": "a"},
    }


async def test_audit_time_bounds_are_inclusive(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    headers = await _admin(session)
    ids = [await _audit(session, minute) for minute in range(1, 6)]
    params = {
        "after": (T0 + timedelta(minutes=2)).isoformat(),
        "before": (T0 + timedelta(minutes=4)).isoformat(),
    }

    response = await api_client.get(AUDIT_URL, params=params, headers=headers)

    assert [e["id"] for e in response.json()["results"]] == ids[1:4]


async def test_audit_naive_bounds_are_utc(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    headers = await _admin(session)
    ids = [await _audit(session, minute) for minute in (1, 2)]
    params = {"after": "2031-05-05T12:02:00", "before": "2031-05-05T13:00:00"}

    response = await api_client.get(AUDIT_URL, params=params, headers=headers)

    assert [e["id"] for e in response.json()["results"]] == ids[1:]


async def test_audit_pages_forward_and_back(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    headers = await _admin(session)
    # Two events share a timestamp: the id breaks the tie, so none is lost or repeated.
    ids = [await _audit(session, minute) for minute in (1, 2, 2, 3, 4)]

    pages = await _pages(
        api_client, headers, str(httpx.URL(AUDIT_URL, params={**WINDOW, "page_size": 2}))
    )

    assert [[e["id"] for e in page["results"]] for page in pages] == [ids[0:2], ids[2:4], ids[4:]]
    assert pages[0]["previous"] is None
    next_url = httpx.URL(pages[0]["next"])
    assert str(next_url).startswith("http://testserver/api/audit/events/asset?")
    assert next_url.params["page_size"] == "2"
    assert next_url.params["after"] == WINDOW["after"]
    back = await api_client.get(pages[2]["previous"], headers=headers)
    assert [e["id"] for e in back.json()["results"]] == ids[2:4]
    first = await api_client.get(back.json()["previous"], headers=headers)
    assert [e["id"] for e in first.json()["results"]] == ids[0:2]
    assert first.json()["previous"] is None
    assert first.json()["next"] is not None


async def test_audit_reverse_order(api_client: httpx.AsyncClient, session: AsyncSession) -> None:
    headers = await _admin(session)
    ids = [await _audit(session, minute) for minute in (1, 2, 2, 3)]
    params = {**WINDOW, "page_size": 3, "reverse_order": "true"}

    pages = await _pages(api_client, headers, str(httpx.URL(AUDIT_URL, params=params)))

    newest_first = ids[::-1]
    assert [[e["id"] for e in page["results"]] for page in pages] == [
        newest_first[:3],
        newest_first[3:],
    ]
    back = await api_client.get(pages[1]["previous"], headers=headers)
    assert [e["id"] for e in back.json()["results"]] == newest_first[:3]


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64!",
        base64.urlsafe_b64encode(b"n|yesterday|1").decode(),
        base64.urlsafe_b64encode(b"x|2031-05-05T12:00:00+00:00|1").decode(),
        base64.urlsafe_b64encode(b"n|2031-05-05T12:00:00|1").decode(),  # no offset
    ],
)
async def test_audit_invalid_cursor(
    api_client: httpx.AsyncClient, session: AsyncSession, cursor: str
) -> None:
    headers = await _admin(session)
    response = await api_client.get(AUDIT_URL, params={"cursor": cursor}, headers=headers)
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid cursor"}


async def test_audit_bad_datetime(api_client: httpx.AsyncClient, session: AsyncSession) -> None:
    headers = await _admin(session)
    response = await api_client.get(AUDIT_URL, params={"before": "soon"}, headers=headers)
    assert response.status_code == 400
    assert list(response.json()) == ["before"]


# Blob digest

DIGEST_URL = "/api/blobs/digest/"


async def test_blob_by_etag_and_sha256(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    blob = await create_blob(session, content=b"some nwb bytes")
    expected = {"blob_id": str(blob.id), "etag": blob.etag, "sha256": blob.sha256, "size": 14}

    by_etag = await api_client.post(
        DIGEST_URL, json={"algorithm": "dandi:dandi-etag", "value": blob.etag}
    )
    by_sha256 = await api_client.post(
        DIGEST_URL, json={"algorithm": "dandi:sha2-256", "value": blob.sha256}
    )

    assert by_etag.status_code == 200
    assert by_etag.json() == expected
    assert by_sha256.status_code == 200
    assert by_sha256.json() == expected


async def test_blob_not_found(api_client: httpx.AsyncClient) -> None:
    digest = {"algorithm": "dandi:dandi-etag", "value": "0" * 32 + "-1"}
    response = await api_client.post(DIGEST_URL, json=digest)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


async def test_blob_unsupported_algorithm(api_client: httpx.AsyncClient) -> None:
    response = await api_client.post(DIGEST_URL, json={"algorithm": "md5", "value": "abc"})
    assert response.status_code == 400
    assert response.json() == (
        "Unsupported Digest Algorithm. Supported: dandi:dandi-etag, dandi:sha2-256"
    )


async def test_blob_digest_fields_are_required(api_client: httpx.AsyncClient) -> None:
    response = await api_client.post(DIGEST_URL, json={"value": "abc"})
    assert response.status_code == 400
    assert list(response.json()) == ["algorithm"]


async def test_embargoed_blob_is_seen_only_by_owners_and_admins(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, owner_key = await create_user(session)
    _, stranger_key = await create_user(session)
    _, admin_key = await create_user(session, admin=True)
    _, draft = await create_dandiset(session, owner=owner, embargo_status=EmbargoStatus.EMBARGOED)
    blob = await create_blob(session, content=b"secret bytes")
    blob.embargoed = True
    await create_asset(session, version=draft, path="secret.nwb", blob=blob)
    await session.flush()
    digest = {"algorithm": "dandi:dandi-etag", "value": blob.etag}

    async def status(headers: dict[str, str]) -> int:
        return (await api_client.post(DIGEST_URL, json=digest, headers=headers)).status_code

    assert await status({}) == 404
    assert await status(auth(stranger_key)) == 404
    assert await status(auth(owner_key)) == 200
    assert await status(auth(admin_key)) == 200
