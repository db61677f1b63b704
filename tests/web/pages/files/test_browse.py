"""The folder browser at DANDI's URL: folders and files of one folder, paged by the API."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from factories import create_asset, create_dandiset, create_user
from sqlalchemy.ext.asyncio import AsyncSession
from web.pages.files.browsing import parse, seed

from dandelion_common import asset_paths
from dandelion_common.settings import Settings
from dandelion_web.pages.files import browse

FILES = {
    "sub-01/ses-1/a.nwb": b"a" * 1500,
    "sub-01/ses-1/b.nwb": b"b" * 20,
    "sub-01/c.nwb": b"c" * 7,
    "sub-02/d.nwb": b"d" * 3,
    "README.md": b"hello",
}


async def test_the_root_lists_folders_first_with_counts_and_sizes(
    web_client: httpx.AsyncClient,
    api_client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
) -> None:
    seeded = await seed(api_client, session, FILES)
    answer = await web_client.get(seeded.files)
    assert answer.status_code == 200
    page = parse(answer.text)
    # Name, files, size, modified, download: folders (aggregates) before the file.
    rows = page.rows
    assert rows[0] == ["Name", "Files", "Size", "Modified", "Download"]
    assert [r[:3] for r in rows[1:]] == [
        ["sub-01/", "3", "1.5 KB"],
        ["sub-02/", "1", "3 B"],
        ["README.md", "1", "5 B"],
    ]
    assert rows[3][3].endswith("UTC")  # the file's modification time, from its record
    readme = seeded.ids["README.md"]
    download = page.labelled("Download README.md")
    assert download.href == f"{settings.api.api_url}/assets/{readme}/download/"
    assert page.link("README.md").href == seeded.asset("README.md")
    folder = page.link("sub-01/")
    assert folder.href == f"{seeded.files}?location=sub-01"
    assert folder.attrs["hx-get"] == folder.href
    assert page.current == [f"DANDI:{seeded.dandiset_id}"]
    assert "<caption>" in answer.text
    assert "Top folder: 3 entries" in answer.text
    assert 'aria-label="Parent folder"' not in answer.text


async def test_a_nested_folder_has_a_breadcrumb_and_a_parent_link(
    web_client: httpx.AsyncClient, api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    seeded = await seed(api_client, session, FILES)
    # Slashes around the location are tolerated (DANDI's own links end in one).
    for location in ("sub-01/ses-1", "sub-01/ses-1/", "/sub-01/ses-1"):
        answer = await web_client.get(seeded.files, params={"location": location})
        assert answer.status_code == 200, location
        page = parse(answer.text)
        assert [r[:3] for r in page.rows[1:]] == [
            ["..", "", ""],
            ["a.nwb", "1", "1.5 KB"],
            ["b.nwb", "1", "20 B"],
        ]
        assert page.current == ["ses-1"]
        crumbs = [
            (link.text, link.href) for link in page.links if link.href.startswith(seeded.files)
        ]
        assert crumbs[:2] == [
            (f"DANDI:{seeded.dandiset_id}", seeded.files),
            ("sub-01", f"{seeded.files}?location=sub-01"),
        ]
        assert page.labelled("Parent folder").href == f"{seeded.files}?location=sub-01"
        assert "<h1>ses-1</h1>" in answer.text


async def test_a_big_folder_is_paged_by_the_api(
    web_client: httpx.AsyncClient,
    api_client: httpx.AsyncClient,
    session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(browse, "PAGE_SIZE", 2)
    seeded = await seed(api_client, session, FILES)
    first = parse((await web_client.get(seeded.files)).text)
    # The API's order is by path; within the page, folders come first.
    assert [r[0] for r in first.rows[1:]] == ["sub-01/", "README.md"]
    following = first.link("Next page")
    assert following.href == f"{seeded.files}?page=2"
    assert "Previous page" not in [link.text for link in first.links]
    answer = await web_client.get(following.href)
    second = parse(answer.text)
    assert [r[0] for r in second.rows[1:]] == ["sub-02/"]
    assert second.link("Previous page").href == seeded.files
    assert "Page 2 of 2" in answer.text
    assert "Next page" not in [link.text for link in second.links]
    past = await web_client.get(seeded.files, params={"page": 3})
    assert past.status_code == 404


@pytest.mark.parametrize(
    ("page", "problem"),
    [("0", "greater than or equal to 1"), ("x", "valid integer"), ("-1", "greater than")],
)
async def test_a_bad_page_is_a_readable_400(
    web_client: httpx.AsyncClient,
    api_client: httpx.AsyncClient,
    session: AsyncSession,
    page: str,
    problem: str,
) -> None:
    seeded = await seed(api_client, session, {"a.nwb": b"a"})
    answer = await web_client.get(seeded.files, params={"page": page})
    assert answer.status_code == 400
    assert "<h1>Bad request</h1>" in answer.text
    assert "page: " in answer.text
    assert problem in answer.text


async def test_unknown_dandisets_versions_and_folders_are_404_pages(
    web_client: httpx.AsyncClient, api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    seeded = await seed(api_client, session, {"a/b.nwb": b"a"})
    ident = seeded.dandiset_id
    for path in (
        "/dandiset/999999/draft/files",
        f"/dandiset/{ident}/0.240101.1200/files",
        "/dandiset/12/draft/files",
        f"/dandiset/{ident}/latest/files",
    ):
        answer = await web_client.get(path)
        assert answer.status_code == 404, path
        assert "<h1>Not found</h1>" in answer.text
    missing = await web_client.get(seeded.files, params={"location": "nope/deeper"})
    assert missing.status_code == 404
    assert "This version has no folder &#39;nope/deeper&#39;." in missing.text
    # A file is no folder.
    assert (await web_client.get(seeded.files, params={"location": "a/b.nwb"})).status_code == 404


async def test_an_empty_version_has_no_files_yet(
    web_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, _ = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner, name="Nothing here")
    answer = await web_client.get(f"/dandiset/{dandiset.id:06}/draft/files")
    assert answer.status_code == 200
    assert "This version has no files yet." in answer.text
    assert "Nothing here" in answer.text
    assert "<table" not in answer.text


async def test_htmx_gets_only_the_listing_with_its_title(
    web_client: httpx.AsyncClient, api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    seeded = await seed(api_client, session, FILES)
    url = f"{seeded.files}?location=sub-01"
    answer = await web_client.get(url, headers={"HX-Request": "true"})
    assert answer.status_code == 200
    text = answer.text.strip()
    assert text.startswith(f"<title>sub-01 · DANDI:{seeded.dandiset_id}/draft")
    assert '<div id="listing"' in text
    assert 'hx-push-url="true"' in text
    assert "<html" not in text
    assert "<footer" not in text
    assert "HX-Request" in answer.headers["vary"]
    # A history restore needs the whole page, and a browser without htmx always gets it.
    restore = await web_client.get(
        url, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restore.text
    assert restore.text.count("<title>") == 1
    assert "<html" in (await web_client.get(url)).text


async def test_the_download_link_is_the_apis_redirect_to_s3(
    web_client: httpx.AsyncClient,
    api_client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
) -> None:
    seeded = await seed(api_client, session, {"sub-01/a.nwb": b"abc"})
    page = parse((await web_client.get(seeded.files, params={"location": "sub-01"})).text)
    href = page.labelled("Download a.nwb").href
    assert href.startswith(settings.api.api_url)
    answer = await api_client.get(urlsplit(href).path)
    assert answer.status_code == 302
    assert settings.s3.bucket in answer.headers["location"]


async def test_hostile_names_are_escaped_and_odd_ones_linked_exactly(
    web_client: httpx.AsyncClient, api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # `+`, `&`, `#` and spaces are allowed in paths: the links must encode them.
    seeded = await seed(api_client, session, {"a+b & c#d/x.nwb": b"x"})
    page = parse((await web_client.get(seeded.files)).text)
    folder = page.link("a+b & c#d/")
    assert folder.href == f"{seeded.files}?location=a%2Bb+%26+c%23d"
    inside = await web_client.get(folder.href)
    assert inside.status_code == 200
    assert "x.nwb" in inside.text
    # The API refuses such a path; rows written before its rules (or by a bug) still show safely.
    owner, _ = await create_user(session)
    dandiset, draft = await create_dandiset(session, owner=owner, name="<script>alert(1)</script>")
    hostile = "<img src=x onerror=alert(1)>.nwb"
    asset = await create_asset(session, version=draft, path=f"d/{hostile}")
    await asset_paths.add(session, draft.id, asset.path, asset.id, 10)
    answer = await web_client.get(f"/dandiset/{dandiset.id:06}/draft/files?location=d")
    assert answer.status_code == 200
    assert "<img src=x" not in answer.text
    assert "<script>alert" not in answer.text
    assert "&lt;img src=x onerror=alert(1)&gt;.nwb" in answer.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text


async def test_an_embargoed_version_shows_anonymous_visitors_nothing(
    web_client: httpx.AsyncClient, api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    seeded = await seed(api_client, session, {"secret-subject/a.nwb": b"a"}, embargoed=True)
    answer = await web_client.get(seeded.files)
    assert answer.status_code == 401  # what the API answers an anonymous reader
    assert "secret-subject" not in answer.text
    asset = await web_client.get(seeded.asset("secret-subject/a.nwb"))
    assert asset.status_code == 401
    assert "secret-subject" not in asset.text
