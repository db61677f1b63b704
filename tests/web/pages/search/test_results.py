"""Hits of the search page: highlight fragments made safe, and each hit's links."""

from __future__ import annotations

from typing import Any

import pytest

from dandelion_web.pages.search.results import asset_view, dandiset_view, folder_of, highlight


@pytest.mark.parametrize(
    ("fragment", "html"),
    [
        ("a <mark>b</mark> c", "a <mark>b</mark> c"),
        ("<script>x</script> <mark>b</mark>", "&lt;script&gt;x&lt;/script&gt; <mark>b</mark>"),
        (
            "</script><img src=x onerror=alert(1)>",
            "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;",
        ),
        ("<mark>a<mark>b</mark></mark> &amp;", "<mark>ab</mark> &amp;amp;"),  # kept balanced
        ("<mark>open", "<mark>open</mark>"),
        ('<mark onclick="x">a</mark>', "&lt;mark onclick=&#34;x&#34;&gt;a"),
    ],
)
def test_only_the_apis_markers_become_markup(fragment: str, html: str) -> None:
    assert str(highlight(fragment)) == html


def test_a_file_at_the_top_is_in_the_root_folder() -> None:
    assert folder_of("a/b/c.nwb") == "a/b"
    assert folder_of("c.nwb") == ""


def asset(**fields: Any) -> dict[str, Any]:
    return {"dandiset_id": "000007", "version": "0.240101.1200", "path": "sub 1/x.nwb",
            "highlights": {}, **fields}  # fmt: skip


def test_an_asset_links_to_its_version_and_folder() -> None:
    view = asset_view(asset())
    assert view.landing_url == "/dandiset/000007/0.240101.1200"
    assert view.folder_url == "/dandiset/000007/0.240101.1200/files?location=sub+1"
    assert str(view.path) == "sub 1/x.nwb"
    top = asset_view(asset(path="<x>.nwb", highlights={"path": ["<mark><x></mark>.nwb"]}))
    assert top.folder_url.endswith("/files?location=")
    assert str(top.path) == "<mark>&lt;x&gt;</mark>.nwb"


def test_a_dandiset_shows_its_newest_version_and_a_short_excerpt() -> None:
    hit = {"identifier": "000007", "name": "N", "description": "word " * 100, "highlights": {},
           "most_recent_published_version": {"version": "0.240101.1200"}}  # fmt: skip
    view = dandiset_view(hit)
    assert (view.url, view.version) == ("/dandiset/000007", "0.240101.1200")
    assert len(view.excerpt) < 310
    assert view.excerpt.endswith(" …")
