"""`/api/webdav/assets/atpath/`: DANDI's path resolver, read from the folder tree."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from conftest import auth
from factories import create_blob, create_dandiset, create_user
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import EmbargoStatus

URL = "/api/webdav/assets/atpath/"
FILES = {
    "sub-01/ses-1/a.nwb": b"a" * 10,
    "sub-01/ses-1/b.nwb": b"bb" * 10,
    "sub-01/c.nwb": b"c" * 7,
    "sub-01/B.nwb": b"B" * 2,
    "sub-02/d.nwb": b"d" * 3,
    "README.md": b"hello",
    "a.txt": b"x",
}


async def seeded(
    session: AsyncSession,
    client: httpx.AsyncClient,
    embargo_status: EmbargoStatus = EmbargoStatus.OPEN,
) -> tuple[dict[str, str], str, dict[str, str]]:
    """A dandiset whose draft holds FILES, added through the API; (base params, key, ids)."""
    owner, key = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner, embargo_status=embargo_status)
    base = f"/api/dandisets/{dandiset.id:06}/versions/draft/assets/"
    ids = {}
    for path, content in FILES.items():
        blob = await create_blob(session, content=content)
        body = {"blob_id": str(blob.id), "metadata": {"path": path}}
        response = await client.post(base, json=body, headers=auth(key))
        assert response.status_code == 200, response.text
        ids[path] = response.json()["asset_id"]
    return {"dandiset_id": f"{dandiset.id:06}", "version_id": "draft"}, key, ids


def listing(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r["type"], r["resource"]["path"]) for r in body["results"]]


async def test_root_lists_only_its_children_and_only_when_asked(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    params, _, _ = await seeded(session, api_client)
    bare = await api_client.get(URL, params=params)
    assert bare.status_code == 200
    assert bare.json() == {"count": 0, "next": None, "previous": None, "results": []}
    slash = await api_client.get(URL, params={**params, "path": "/", "children": "false"})
    assert slash.json()["count"] == 0
    body = (await api_client.get(URL, params={**params, "children": "true"})).json()
    assert body["count"] == 4
    # Byte order (C collation), as DANDI: upper case sorts before lower case.
    assert listing(body) == [
        ("asset", "README.md"),
        ("asset", "a.txt"),
        ("folder", "sub-01"),
        ("folder", "sub-02"),
    ]
    assert body["results"][2]["resource"] == {
        "path": "sub-01",
        "total_assets": 4,
        "total_size": 10 + 20 + 7 + 2,
    }


async def test_asset_at_path(api_client: httpx.AsyncClient, session: AsyncSession) -> None:
    params, _, ids = await seeded(session, api_client)
    response = await api_client.get(URL, params={**params, "path": "sub-01/c.nwb"})
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (1, None, None)
    [result] = body["results"]
    assert result["type"] == "asset"
    resource = result["resource"]
    assert list(resource) == ["asset_id", "path", "created", "modified", "zarr", "blob", "size"]
    assert (resource["asset_id"], resource["path"], resource["zarr"], resource["size"]) == (
        ids["sub-01/c.nwb"],
        "sub-01/c.nwb",
        None,
        7,
    )
    info = (await api_client.get(f"/api/assets/{ids['sub-01/c.nwb']}/info/")).json()
    assert (resource["blob"], resource["created"], resource["modified"]) == (
        info["blob"],
        info["created"],
        info["modified"],
    )
    # `children` changes nothing for a file.
    with_children = await api_client.get(
        URL, params={**params, "path": "sub-01/c.nwb", "children": "true"}
    )
    assert with_children.json() == body


async def test_metadata_is_the_full_asset_metadata(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    params, _, ids = await seeded(session, api_client)
    body = (
        await api_client.get(URL, params={**params, "path": "sub-01/c.nwb", "metadata": "1"})
    ).json()
    metadata = body["results"][0]["resource"]["metadata"]
    full = (await api_client.get(f"/api/assets/{ids['sub-01/c.nwb']}/")).json()
    assert metadata == full
    assert (metadata["path"], metadata["contentSize"]) == ("sub-01/c.nwb", 7)
    folder = (
        await api_client.get(
            URL, params={**params, "path": "sub-01", "children": "true", "metadata": "true"}
        )
    ).json()
    assert [r["type"] for r in folder["results"] if "metadata" in r["resource"]] == [
        "asset",
        "asset",
    ]


async def test_folder_then_its_direct_children(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    params, _, _ = await seeded(session, api_client)
    alone = (await api_client.get(URL, params={**params, "path": "sub-01"})).json()
    assert alone["count"] == 1
    assert alone["results"] == [
        {"type": "folder", "resource": {"path": "sub-01", "total_assets": 4, "total_size": 39}}
    ]
    slashed = (await api_client.get(URL, params={**params, "path": "sub-01/"})).json()
    assert slashed == alone
    body = (await api_client.get(URL, params={**params, "path": "sub-01", "children": "on"})).json()
    assert body["count"] == 4
    assert listing(body) == [
        ("folder", "sub-01"),
        ("asset", "sub-01/B.nwb"),
        ("asset", "sub-01/c.nwb"),
        ("folder", "sub-01/ses-1"),
    ]
    deep = (
        await api_client.get(URL, params={**params, "path": "sub-01/ses-1/", "children": "yes"})
    ).json()
    assert listing(deep) == [
        ("folder", "sub-01/ses-1"),
        ("asset", "sub-01/ses-1/a.nwb"),
        ("asset", "sub-01/ses-1/b.nwb"),
    ]


async def test_pages_count_the_folder_and_its_children(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    params, _, _ = await seeded(session, api_client)
    query = {**params, "path": "sub-01", "children": "true", "page_size": "2"}
    first = (await api_client.get(URL, params=query)).json()
    assert first["count"] == 4
    assert listing(first) == [("folder", "sub-01"), ("asset", "sub-01/B.nwb")]
    assert first["previous"] is None
    assert first["next"] is not None
    assert parse_qs(urlsplit(first["next"]).query)["page"] == ["2"]
    second = (await api_client.get(first["next"])).json()
    assert second["count"] == 4
    assert listing(second) == [("asset", "sub-01/c.nwb"), ("folder", "sub-01/ses-1")]
    assert second["next"] is None
    assert second["previous"] is not None
    assert "page=" not in second["previous"]
    past = await api_client.get(URL, params={**query, "page": "3"})
    assert (past.status_code, past.json()) == (404, {"detail": "Invalid page."})
    root = {**params, "children": "true", "page_size": "3", "page": "2"}
    assert listing((await api_client.get(URL, params=root)).json()) == [("folder", "sub-02")]


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("nope", "Folder or asset not found at nope"),
        ("sub-01/c.nwb/", "Folder not found at sub-01/c.nwb"),
        ("sub-01/ses", "Folder or asset not found at sub-01/ses"),
        ("SUB-01", "Folder or asset not found at SUB-01"),
        ("/sub-01", "Folder or asset not found at /sub-01"),
    ],
)
async def test_unknown_paths_are_404(
    api_client: httpx.AsyncClient, session: AsyncSession, path: str, detail: str
) -> None:
    params, _, _ = await seeded(session, api_client)
    response = await api_client.get(URL, params={**params, "path": path})
    assert (response.status_code, response.json()) == (404, {"detail": detail})


async def test_unknown_dandiset_or_version_is_404(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    params, _, _ = await seeded(session, api_client)
    not_found = {"detail": "No Version matches the given query."}
    for changed in (
        {"version_id": "typo"},
        {"version_id": "0.240101.1200"},
        {"dandiset_id": "999999"},
        {"dandiset_id": "abc"},
        {"dandiset_id": "99999999999999999999"},
    ):
        response = await api_client.get(URL, params={**params, **changed})
        assert (response.status_code, response.json()) == (404, not_found), changed
    # DANDI looks the dandiset up by int(dandiset_id): an unpadded id finds it too.
    unpadded = {**params, "dandiset_id": str(int(params["dandiset_id"])), "children": "1"}
    assert (await api_client.get(URL, params=unpadded)).json()["count"] == 4


async def test_bad_query_is_400_per_field(api_client: httpx.AsyncClient) -> None:
    missing = await api_client.get(URL)
    assert (missing.status_code, missing.json()) == (
        400,
        {"dandiset_id": ["This field is required."], "version_id": ["This field is required."]},
    )
    bad = await api_client.get(
        URL,
        params={"dandiset_id": "", "version_id": "draft", "path": " ", "children": "maybe"},
    )
    assert (bad.status_code, bad.json()) == (
        400,
        {
            "dandiset_id": ["This field may not be blank."],
            "path": ["This field may not be blank."],
            "children": ["Must be a valid boolean."],
        },
    )


async def test_embargoed_dandiset_only_for_owners_and_admins(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    params, key, _ = await seeded(session, api_client, EmbargoStatus.EMBARGOED)
    query = {**params, "children": "true"}
    anonymous = await api_client.get(URL, params=query)
    assert anonymous.status_code == 403  # DANDI's view-level refusal, even for the anonymous
    _, stranger = await create_user(session)
    assert (await api_client.get(URL, params=query, headers=auth(stranger))).status_code == 403
    owner = await api_client.get(URL, params=query, headers=auth(key))
    assert (owner.status_code, owner.json()["count"]) == (200, 4)
    _, admin = await create_user(session, admin=True)
    assert (await api_client.get(URL, params=query, headers=auth(admin))).status_code == 200


async def test_tree_follows_asset_removal(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    params, key, ids = await seeded(session, api_client)
    base = f"/api/dandisets/{params['dandiset_id']}/versions/draft/assets"
    for path in ("sub-02/d.nwb", "sub-01/B.nwb"):
        deleted = await api_client.delete(f"{base}/{ids[path]}/", headers=auth(key))
        assert deleted.status_code == 204
    root = (await api_client.get(URL, params={**params, "children": "true"})).json()
    assert listing(root) == [("asset", "README.md"), ("asset", "a.txt"), ("folder", "sub-01")]
    assert root["results"][2]["resource"]["total_assets"] == 3
    gone = await api_client.get(URL, params={**params, "path": "sub-02"})
    assert gone.status_code == 404


async def test_slashless_url_redirects(api_client: httpx.AsyncClient) -> None:
    response = await api_client.get(URL.rstrip("/"), params={"dandiset_id": "000001"})
    assert response.status_code == 301
    assert urlsplit(response.headers["location"]).path == URL
