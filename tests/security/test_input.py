"""Hostile text in what clients write: asset paths, metadata, names and upload requests.

Each hostile case is refused with a 400 and leaves nothing behind; each control case (a
legitimate neighbour of the hostile ones) is accepted, so the refusals are not blanket.
Paths follow DANDI's `test_asset_create_path_validation` list and the traversal and Unicode
tricks of reference/k8s-reliability.md §4.4 (6).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from security.world import Owned, owned
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.models import Asset, AssetPath, Dandiset, Upload, Version, VersionAsset
from dandelion_common.web.inputs import MAX_DEPTH

BAD_PATHS = [
    # DANDI's list
    "/foo",
    "",
    "./foo",
    "../foo",
    "foo/.",
    "foo/..",
    "foo/./bar",
    "foo/../bar",
    "foo//bar",
    "foo\x00bar",
    # traversal in other spellings
    "a/../../b",
    "a/",
    "..\\x",
    "%2e%2e/x",
    "x" * 513,
    # Unicode look-alikes of dots and slashes
    "\u2024\u2024/x",
    "\uff0e\uff0e/x",
    "a\u2215b",
    # control characters and odd spaces
    "a\tb",
    "a\nb",
    "a\rb",
    "a\x1fb",
    "a\x7fb",
    "a\u00a0b",
    "a\u3000b",
    "a\u200bb",
    "a\u202eb",
    "a\ud800b",
]
GOOD_PATHS = ["foo/.bar", "sub-01/sub-01_ses-1_ecephys.nwb", "a b/c (1) & d.nwb", "x" * 512]


def deep(levels: int) -> Any:
    """A JSON value `levels` containers deep."""
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


# Metadata field values: refused ones and accepted ones.
BAD_TEXT = [
    "a\x00b",  # PostgreSQL cannot store it
    "\ud800",  # an unpaired surrogate: cannot be stored either
    "red \x1b[31m alert",  # terminal escape sequence
    "bell\x07",
    "form\x0cfeed",
]
GOOD_TEXT = [
    "tab\there\nnew line\r\n",
    "Zoë 🧠 naïve",
    "right-to-left \u202e ok",
    '<b>"quoted"</b>',
]


def send(client: httpx.AsyncClient, method: str, url: str, body: Any, owner: Owned) -> Any:
    """Serialize with escapes (`\\ud800` cannot be encoded to UTF-8 raw)."""
    return client.request(
        method,
        url,
        content=json.dumps(body).encode(),
        headers={**owner.headers, "Content-Type": "application/json"},
    )


async def draft_state(session: AsyncSession, draft_id: int) -> tuple[Any, ...]:
    """Everything a write to the draft could have changed (read fresh, not from the ORM)."""
    version = (
        await session.execute(
            select(Version.name, Version.metadata_, Version.asset_count, Version.size).where(
                Version.id == draft_id
            )
        )
    ).one()
    members = await session.execute(
        select(VersionAsset.asset_id, VersionAsset.path).where(VersionAsset.version_id == draft_id)
    )
    paths = await session.execute(select(AssetPath.path).where(AssetPath.version_id == draft_id))
    assets = await session.scalar(select(func.count()).select_from(Asset))
    return (tuple(version), sorted(members.all()), sorted(paths.all()), assets)


async def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text


def asset_url(me: Owned, asset_id: uuid.UUID | None = None) -> str:
    base = f"/api/dandisets/{me.identifier}/versions/draft/assets/"
    return f"{base}{asset_id}/" if asset_id else base


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("path", BAD_PATHS)
async def test_bad_asset_paths_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, session: AsyncSession, method: str, path: str
) -> None:
    me = await owned(session)
    url = asset_url(me, me.asset.id if method == "PUT" else None)
    before = await draft_state(session, me.draft.id)
    body = {"blob_id": str(me.spare_blob.id), "metadata": {"path": path}}
    await assert_refused(await send(client, method, url, body, me))
    assert await draft_state(session, me.draft.id) == before


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("path", GOOD_PATHS)
async def test_good_asset_paths_are_stored_as_sent(
    client: httpx.AsyncClient, session: AsyncSession, method: str, path: str
) -> None:
    me = await owned(session)
    url = asset_url(me, me.asset.id if method == "PUT" else None)
    body = {"blob_id": str(me.spare_blob.id), "metadata": {"path": path}}
    response = await send(client, method, url, body, me)
    assert response.status_code == 200, response.text
    stored = await session.scalar(
        select(VersionAsset.path).where(
            VersionAsset.version_id == me.draft.id,
            VersionAsset.asset_id == uuid.UUID(response.json()["asset_id"]),
        )
    )
    assert stored == path


# (method, url, body with the text in its metadata) per write that carries metadata.
Write = Callable[[Owned, Any], tuple[str, str, dict[str, Any]]]
WRITES: dict[str, Write] = {
    "create asset": lambda me, value: (
        "POST",
        asset_url(me),
        {"blob_id": str(me.spare_blob.id), "metadata": {"path": "new.nwb", "description": value}},
    ),
    "update asset": lambda me, value: (
        "PUT",
        asset_url(me, me.asset.id),
        {"blob_id": str(me.spare_blob.id), "metadata": {"path": "new.nwb", "description": value}},
    ),
    "create dandiset": lambda me, value: (
        "POST",
        "/api/dandisets/",
        {"name": "A dandiset", "metadata": {"description": value}},
    ),
    "update draft": lambda me, value: (
        "PUT",
        f"/api/dandisets/{me.identifier}/versions/draft/",
        {"name": "A dandiset", "metadata": {"name": "A dandiset", "description": value}},
    ),
}


async def dandisets(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Dandiset)) or 0)


# Nesting: the body is level 1, metadata 2, the description 3; deep(n) adds n levels.
@pytest.mark.parametrize("value", [*BAD_TEXT, deep(MAX_DEPTH - 1)], ids=repr)
@pytest.mark.parametrize("write", WRITES)
async def test_bad_metadata_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, session: AsyncSession, write: str, value: Any
) -> None:
    me = await owned(session)
    before = (await draft_state(session, me.draft.id), await dandisets(session))
    method, url, body = WRITES[write](me, value)
    await assert_refused(await send(client, method, url, body, me))
    assert (await draft_state(session, me.draft.id), await dandisets(session)) == before


@pytest.mark.parametrize("value", [*GOOD_TEXT, deep(MAX_DEPTH - 2)], ids=repr)
@pytest.mark.parametrize("write", WRITES)
async def test_legitimate_metadata_is_kept_exactly(
    client: httpx.AsyncClient, session: AsyncSession, write: str, value: Any
) -> None:
    me = await owned(session)
    method, url, body = WRITES[write](me, value)
    response = await send(client, method, url, body, me)
    assert response.status_code == 200, response.text
    if write.endswith("asset"):
        asset = await session.get(Asset, uuid.UUID(response.json()["asset_id"]))
        assert asset is not None
        assert asset.metadata_["description"] == value
    else:
        identifier = me.identifier if write == "update draft" else response.json()["identifier"]
        metadata = await session.scalar(
            select(Version.metadata_).where(
                Version.dandiset_id == int(identifier), Version.version == "draft"
            )
        )
        assert metadata is not None
        assert metadata["description"] == value


@pytest.mark.parametrize("name", ["a\x00b", "\x1b]0;title\x07", "\ud800"], ids=repr)
async def test_bad_dandiset_names_are_refused(
    client: httpx.AsyncClient, session: AsyncSession, name: str
) -> None:
    me = await owned(session)
    before = (await draft_state(session, me.draft.id), await dandisets(session))
    for method, url in (
        ("POST", "/api/dandisets/"),
        ("PUT", f"/api/dandisets/{me.identifier}/versions/draft/"),
    ):
        await assert_refused(await send(client, method, url, {"name": name, "metadata": {}}, me))
    assert (await draft_state(session, me.draft.id), await dandisets(session)) == before


@pytest.mark.parametrize(
    "change",
    [
        {"digest": {"algorithm": "dandi:dandi-etag", "value": "a\x00b-1"}},
        {"digest": {"algorithm": "dandi:dandi-etag\x00", "value": f"{'0' * 32}-1"}},
        {"dandiset": "000001\x00"},
        {"dandiset": "../000001"},
        {"dandiset": "\ud800"},
        {"contentSize": True},
        {"contentSize": 0},
        {"contentSize": 10**30},
    ],
    ids=repr,
)
async def test_bad_upload_requests_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, session: AsyncSession, change: dict[str, Any]
) -> None:
    me = await owned(session)
    digest = {"algorithm": "dandi:dandi-etag", "value": f"{uuid.uuid4().hex}-1"}
    body = {"contentSize": 10, "digest": digest, "dandiset": me.identifier, **change}
    await assert_refused(await send(client, "POST", "/api/uploads/initialize/", body, me))
    assert await session.scalar(select(func.count()).select_from(Upload)) == 0
    # The same request without the hostile change is accepted (and stored).
    body = {"contentSize": 10, "digest": digest, "dandiset": me.identifier}
    response = await send(client, "POST", "/api/uploads/initialize/", body, me)
    assert response.status_code == 200, response.text
    assert await session.scalar(select(func.count()).select_from(Upload)) == 1


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/api/dandisets/", "search"),
        ("/api/dandisets/search/", "search"),
        ("/api/search/species/", "species"),
        ("/api/search/genotypes/", "genotype"),
        ("/api/users/search/", "username"),
        ("/api/dandisets/{id}/versions/draft/assets/", "path"),
        ("/api/dandisets/{id}/versions/draft/assets/", "glob"),
        ("/api/dandisets/{id}/versions/draft/assets/paths/", "path_prefix"),
    ],
)
async def test_nul_in_query_parameters_is_a_400_by_field(
    client: httpx.AsyncClient, session: AsyncSession, url: str, name: str
) -> None:
    # These reached PostgreSQL and failed there as 500s.
    me = await owned(session)
    response = await client.get(
        url.format(id=me.identifier), params={name: "a\x00b"}, headers=me.headers
    )
    assert (response.status_code, response.json()) == (
        400,
        {name: ["Null characters are not allowed."]},
    )
