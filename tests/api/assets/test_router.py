"""Assets in a draft: created through the API, listed lazily, folders kept incrementally."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import auth
from factories import create_blob, create_dandiset, create_user
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.models import AssetPath, AuditRecord, Version
from dandelion_common.storage import S3Storage, blob_key

FILES = {
    "sub-01/ses-1/a.nwb": b"a" * 10,
    "sub-01/ses-1/b.nwb": b"bb" * 10,
    "sub-01/c.nwb": b"c" * 7,
    "sub-02/d.nwb": b"d" * 3,
    "README.md": b"hello",
}


async def seeded(
    session: AsyncSession, client: httpx.AsyncClient
) -> tuple[str, str, dict[str, str]]:
    """A dandiset whose draft holds FILES, added through the API; returns (base url, key, ids)."""
    owner, key = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    base = f"/api/dandisets/{dandiset.id:06}/versions/draft/assets"
    ids = {}
    for path, content in FILES.items():
        blob = await create_blob(session, content=content)
        body = {"blob_id": str(blob.id), "metadata": {"path": path, "encodingFormat": "x"}}
        response = await client.post(f"{base}/", json=body, headers=auth(key))
        assert response.status_code == 200, response.text
        ids[path] = response.json()["asset_id"]
    return base, key, ids


async def test_created_asset_has_dandis_full_metadata(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    base, _, ids = await seeded(session, api_client)
    metadata = (await api_client.get(f"{base}/{ids['sub-02/d.nwb']}/")).json()
    assert metadata["id"] == f"dandiasset:{ids['sub-02/d.nwb']}"
    assert (metadata["path"], metadata["contentSize"], metadata["encodingFormat"]) == (
        "sub-02/d.nwb",
        3,
        "x",
    )
    assert (
        metadata["contentUrl"][0]
        == f"http://127.0.0.1:8000/api/assets/{ids['sub-02/d.nwb']}/download/"
    )
    assert metadata["digest"]["dandi:dandi-etag"].endswith("-1")
    assert metadata["access"] == [{"schemaKey": "AccessRequirements", "status": "dandi:OpenAccess"}]
    info = (await api_client.get(f"/api/assets/{ids['sub-02/d.nwb']}/info/")).json()
    assert list(info) == [
        "asset_id",
        "blob",
        "zarr",
        "path",
        "size",
        "created",
        "modified",
        "metadata",
    ]


async def test_draft_counters_and_audit_follow_changes(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    base, _, _ = await seeded(session, api_client)
    dandiset_id = int(base.split("/")[3])
    draft = await session.scalar(select(Version).where(Version.dandiset_id == dandiset_id))
    assert draft is not None
    await session.refresh(draft)
    assert (draft.asset_count, draft.size) == (5, sum(map(len, FILES.values())))
    kinds = await session.scalars(
        select(AuditRecord.record_type).where(AuditRecord.dandiset_id == dandiset_id)
    )
    assert list(kinds).count("add_asset") == 5


async def test_list_is_lazy_and_filters_like_dandi(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    base, _, _ = await seeded(session, api_client)
    first = (await api_client.get(f"{base}/", params={"page_size": 2, "order": "path"})).json()
    assert first["count"] == 5
    assert [a["path"] for a in first["results"]] == ["README.md", "sub-01/c.nwb"]
    assert "metadata" not in first["results"][0]
    second = (await api_client.get(first["next"])).json()
    assert second["count"] is None
    assert [a["path"] for a in second["results"]] == ["sub-01/ses-1/a.nwb", "sub-01/ses-1/b.nwb"]
    prefix = (await api_client.get(f"{base}/", params={"path": "SUB-01/", "order": "path"})).json()
    assert [a["path"] for a in prefix["results"]] == [
        "sub-01/c.nwb",
        "sub-01/ses-1/a.nwb",
        "sub-01/ses-1/b.nwb",
    ]
    exact = (await api_client.get(f"{base}/", params={"path": "sub-01/c.nwb"})).json()
    assert [a["path"] for a in exact["results"]] == ["sub-01/c.nwb"]
    globbed = (
        await api_client.get(f"{base}/", params={"glob": "*SES-1*", "order": "-path"})
    ).json()
    assert [a["path"] for a in globbed["results"]] == ["sub-01/ses-1/b.nwb", "sub-01/ses-1/a.nwb"]
    with_metadata = (
        await api_client.get(f"{base}/", params={"metadata": "true", "page_size": 1})
    ).json()
    assert with_metadata["results"][0]["metadata"]["schemaKey"] == "Asset"


async def test_folders_carry_aggregates(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    base, _, ids = await seeded(session, api_client)
    root = (await api_client.get(f"{base}/paths/")).json()
    summary = {
        r["path"]: (r["aggregate_files"], r["aggregate_size"], r["asset"]) for r in root["results"]
    }
    assert list(summary) == ["README.md", "sub-01", "sub-02"]
    assert summary["sub-01"] == (3, 10 + 20 + 7, None)
    assert summary["README.md"][2]["asset_id"] == ids["README.md"]
    # Beyond DANDI's fields: when the file changed, for a file browser's one call per folder.
    record = (await api_client.get(f"{base}/{ids['README.md']}/info/")).json()
    assert summary["README.md"][2]["modified"] == record["modified"]
    deep = (await api_client.get(f"{base}/paths/", params={"path_prefix": "sub-01/ses-1/"})).json()
    assert [(r["path"], r["aggregate_files"]) for r in deep["results"]] == [
        ("sub-01/ses-1/a.nwb", 1),
        ("sub-01/ses-1/b.nwb", 1),
    ]
    missing = await api_client.get(f"{base}/paths/", params={"path_prefix": "nope"})
    assert (missing.status_code, missing.json()) == (404, {"detail": "Specified path not found."})


async def test_paths_conflict_with_files_and_folders(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    base, key, _ = await seeded(session, api_client)
    blob = await create_blob(session, content=b"new")
    for path, message in [
        ("sub-01/c.nwb", "An asset with that path already exists"),
        ("sub-01", "Path of new asset \"sub-01\" conflicts with existing assets: ['sub-01']"),
        (
            "README.md/x.nwb",
            "Path of new asset \"README.md/x.nwb\" conflicts with existing assets: ['README.md']",
        ),
    ]:
        body = {"blob_id": str(blob.id), "metadata": {"path": path}}
        response = await api_client.post(f"{base}/", json=body, headers=auth(key))
        assert (response.status_code, response.json()) == (409, message)


@pytest.mark.parametrize(
    "path", ["/abs.nwb", "a//b.nwb", "../up.nwb", "a/./b", "bad\x00.nwb", "x" * 513, "a/..b"]
)
async def test_invalid_paths_are_400(
    api_client: httpx.AsyncClient, session: AsyncSession, path: str
) -> None:
    owner, key = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    blob = await create_blob(session, content=b"x")
    body = {"blob_id": str(blob.id), "metadata": {"path": path}}
    response = await api_client.post(
        f"/api/dandisets/{dandiset.id:06}/versions/draft/assets/", json=body, headers=auth(key)
    )
    assert response.status_code == 400


async def test_body_errors_are_dandis(api_client: httpx.AsyncClient, session: AsyncSession) -> None:
    owner, key = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    url = f"/api/dandisets/{dandiset.id:06}/versions/draft/assets/"
    neither = await api_client.post(url, json={"metadata": {"path": "a"}}, headers=auth(key))
    assert neither.json() == {"blob_id": ["Exactly one of blob_id or zarr_id must be specified."]}
    blob = await create_blob(session, content=b"y")
    no_path = await api_client.post(
        url, json={"blob_id": str(blob.id), "metadata": {}}, headers=auth(key)
    )
    assert no_path.json() == {"metadata": ["No path specified in metadata."]}
    unknown = await api_client.post(
        url,
        json={"blob_id": "00000000-0000-4000-8000-000000000000", "metadata": {"path": "a"}},
        headers=auth(key),
    )
    assert unknown.status_code == 404


async def test_replace_gives_a_new_id_and_delete_updates_folders(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    base, key, ids = await seeded(session, api_client)
    old = ids["sub-02/d.nwb"]
    blob = await create_blob(session, content=b"moved!")
    body = {"blob_id": str(blob.id), "metadata": {"path": "sub-03/d.nwb"}}
    replaced = await api_client.put(f"{base}/{old}/", json=body, headers=auth(key))
    assert replaced.status_code == 200
    new = replaced.json()["asset_id"]
    assert new != old
    assert (await api_client.get(f"{base}/{old}/")).status_code == 404
    root = [r["path"] for r in (await api_client.get(f"{base}/paths/")).json()["results"]]
    assert root == ["README.md", "sub-01", "sub-03"]
    assert (await api_client.delete(f"{base}/{new}/", headers=auth(key))).status_code == 204
    nodes = await session.scalars(select(AssetPath.path).where(AssetPath.path.like("sub-03%")))
    assert list(nodes) == []


async def test_download_redirects_to_the_bytes(
    api_client: httpx.AsyncClient, session: AsyncSession, storage: S3Storage
) -> None:
    owner, key = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    content = b"0123456789" * 100
    blob = await create_blob(session, content=content)
    await storage.put(blob_key(blob.id), content)
    body = {"blob_id": str(blob.id), "metadata": {"path": "sub-01/data.nwb"}}
    created = await api_client.post(
        f"/api/dandisets/{dandiset.id:06}/versions/draft/assets/", json=body, headers=auth(key)
    )
    asset_id = created.json()["asset_id"]
    for method in ("GET", "HEAD"):
        response = await api_client.request(method, f"/api/assets/{asset_id}/download/")
        assert response.status_code == 302
    location = response.headers["location"]
    assert "filename" in urlsplit(location).query
    async with httpx.AsyncClient() as s3:
        fetched = await s3.get(location, headers={"Range": "bytes=10-19"})
    assert (fetched.status_code, fetched.content) == (206, content[10:20])


DOWNLOADS = ("/api/assets/{asset_id}/download/", "{base}/{asset_id}/download/")


async def downloadable(
    session: AsyncSession,
    client: httpx.AsyncClient,
    storage: S3Storage,
    route: str,
    **metadata: str,
) -> tuple[str, bytes]:
    """The download URL, by `route`, of an asset with `metadata` whose bytes are in S3."""
    owner, key = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    content = f"bytes of {metadata['path']}".encode()
    blob = await create_blob(session, content=content)
    await storage.put(blob_key(blob.id), content)
    base = f"/api/dandisets/{dandiset.id:06}/versions/draft/assets"
    body = {"blob_id": str(blob.id), "metadata": metadata}
    created = await client.post(f"{base}/", json=body, headers=auth(key))
    assert created.status_code == 200, created.text
    return route.format(base=base, asset_id=created.json()["asset_id"]), content


async def fetched(location: str) -> httpx.Response:
    async with httpx.AsyncClient() as s3:
        response = await s3.get(location)
    assert response.status_code == 200, response.text
    return response


@pytest.mark.parametrize("route", DOWNLOADS)
async def test_inline_download_is_shown_as_its_encoding_format(
    api_client: httpx.AsyncClient, session: AsyncSession, storage: S3Storage, route: str
) -> None:
    """DANDI's web app opens files in the browser with `content_disposition=inline`."""
    metadata = {"path": "docs/notes.txt", "encodingFormat": "text/plain"}
    url, content = await downloadable(session, api_client, storage, route, **metadata)
    response = await api_client.get(url, params={"content_disposition": "inline"})
    assert response.status_code == 302
    bytes_ = await fetched(response.headers["location"])
    assert bytes_.content == content
    assert bytes_.headers["content-disposition"] == 'inline; filename="notes.txt"'
    assert bytes_.headers["content-type"] == "text/plain"


@pytest.mark.parametrize("route", DOWNLOADS)
async def test_inline_download_without_an_encoding_format_is_octet_stream(
    api_client: httpx.AsyncClient, session: AsyncSession, storage: S3Storage, route: str
) -> None:
    url, _ = await downloadable(session, api_client, storage, route, path="sub-01/raw.bin")
    response = await api_client.get(url, params={"content_disposition": "inline"})
    bytes_ = await fetched(response.headers["location"])
    assert bytes_.headers["content-disposition"] == 'inline; filename="raw.bin"'
    assert bytes_.headers["content-type"] == "application/octet-stream"


@pytest.mark.parametrize("route", DOWNLOADS)
async def test_attachment_is_the_default_and_keeps_the_stored_type(
    api_client: httpx.AsyncClient, session: AsyncSession, storage: S3Storage, route: str
) -> None:
    metadata = {"path": "docs/notes.txt", "encodingFormat": "text/plain"}
    url, _ = await downloadable(session, api_client, storage, route, **metadata)
    default = await api_client.get(url)
    explicit = await api_client.get(url, params={"content_disposition": "attachment"})
    for response in (default, explicit):
        assert response.status_code == 302
        assert "response-content-type" not in urlsplit(response.headers["location"]).query
        bytes_ = await fetched(response.headers["location"])
        assert bytes_.headers["content-disposition"] == 'attachment; filename="notes.txt"'


@pytest.mark.parametrize("route", DOWNLOADS)
async def test_an_inline_video_is_a_page_playing_it(
    api_client: httpx.AsyncClient, session: AsyncSession, storage: S3Storage, route: str
) -> None:
    """DANDI answers a small HTML page with a <video> of the presigned URL, not a redirect."""
    metadata = {"path": "sub-01/behavior.mp4", "encodingFormat": "video/mp4"}
    url, content = await downloadable(session, api_client, storage, route, **metadata)
    page = await api_client.get(url, params={"content_disposition": "inline"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    match = re.fullmatch(
        r'<video autoplay muted controls>\s*<source src="([^"]+)">\s*</video>\s*', page.text
    )
    assert match is not None, page.text
    source = html.unescape(match[1])
    assert source.startswith("http")
    assert "&amp;" in match[1]  # the URL is escaped in the page
    video = await fetched(source)
    assert video.content == content
    assert video.headers["content-type"] == "video/mp4"
    assert video.headers["content-disposition"] == 'inline; filename="behavior.mp4"'
    # Saved as a file, a video is a redirect as any other.
    assert (await api_client.get(url)).status_code == 302


@pytest.mark.parametrize("route", DOWNLOADS)
async def test_other_dispositions_are_dandis_field_error(
    api_client: httpx.AsyncClient, session: AsyncSession, storage: S3Storage, route: str
) -> None:
    url, _ = await downloadable(session, api_client, storage, route, path="a.nwb")
    response = await api_client.get(url, params={"content_disposition": "download"})
    assert (response.status_code, response.json()) == (
        400,
        {"content_disposition": ['"download" is not a valid choice.']},
    )
    # As on DANDI, the asset is looked up first.
    missing = url.replace(url.split("/")[-3], "00000000-0000-4000-8000-000000000000")
    response = await api_client.get(missing, params={"content_disposition": "download"})
    assert response.status_code == 404


async def test_slashless_get_is_a_permanent_redirect(api_client: httpx.AsyncClient) -> None:
    response = await api_client.get("/api/info")
    assert (response.status_code, response.headers["location"]) == (
        301,
        "http://testserver/api/info/",
    )


@pytest.mark.parametrize("order", ["created", "-created", "path", "-path"])
async def test_deep_pages_seek_from_cached_keys_and_match_offsets(
    api_client: httpx.AsyncClient,
    session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
    order: str,
) -> None:
    """With a tiny stride every page past the second seeks; pages must equal plain slicing."""
    from dandelion_api.assets import repository

    base, key, _ = await seeded(session, api_client)
    extra = await create_blob(session, content=b"extra")
    for n in range(7):
        body = {"blob_id": str(extra.id), "metadata": {"path": f"more/f{n}.nwb"}}
        assert (await api_client.post(f"{base}/", json=body, headers=auth(key))).status_code == 200
    everything = (
        await api_client.get(f"{base}/", params={"order": order, "page_size": 100})
    ).json()
    expected = [a["path"] for a in everything["results"]]
    monkeypatch.setattr(repository, "STRIDE", 2)
    paged = []
    for page in range(1, 5):
        params: dict[str, str | int] = {"order": order, "page_size": 3, "page": page}
        paged += [
            a["path"] for a in (await api_client.get(f"{base}/", params=params)).json()["results"]
        ]
    assert paged == expected
    assert len(expected) == 12
