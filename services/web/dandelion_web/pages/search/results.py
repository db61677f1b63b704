"""Hits as the page shows them: highlighted text and the links each hit leads to.

The API's highlight fragments are the document's own text with `<mark>` and `</mark>`
around the matched words, and nothing else escaped (neither PostgreSQL's `ts_headline` nor
OpenSearch's default encoder escapes). So a fragment is never trusted as markup: it is
split on those two markers, every piece is escaped, and only balanced markers become
`<mark>` elements again. A document whose own text spells a marker can at worst mark some
of its own words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape

PRE_TAG, POST_TAG = "<mark>", "</mark>"  # dandelion_search.backends.base
_MARKERS = re.compile(f"({re.escape(PRE_TAG)}|{re.escape(POST_TAG)})")


def highlight(fragment: str) -> Markup:
    """`fragment` escaped, with the API's highlight markers as `<mark>` elements."""
    parts: list[str] = []
    open_ = False
    for piece in _MARKERS.split(fragment):
        if piece == PRE_TAG:
            if not open_:
                parts.append(PRE_TAG)
                open_ = True
        elif piece == POST_TAG:
            if open_:
                parts.append(POST_TAG)
                open_ = False
        else:
            parts.append(str(escape(piece)))
    if open_:
        parts.append(POST_TAG)
    return Markup("".join(parts))  # noqa: S704 - every piece but the markers is escaped


def _shown(highlights: Mapping[str, Sequence[str]], name: str, plain: str) -> Markup:
    fragments = highlights.get(name) or []
    return highlight(fragments[0]) if fragments else escape(plain)


def folder_of(path: str) -> str:
    """The folder holding `path`, as the file browser's `location` names it ("" at the top)."""
    return path.rpartition("/")[0]


@dataclass(frozen=True)
class AssetView:
    path: Markup
    hit: Mapping[str, Any]
    landing_url: str
    folder: str
    folder_url: str


@dataclass(frozen=True)
class DandisetView:
    name: Markup
    excerpt: Markup
    hit: Mapping[str, Any]
    url: str
    version: str


def asset_view(hit: Mapping[str, Any]) -> AssetView:
    dandiset, version = hit["dandiset_id"], hit["version"]
    folder = folder_of(hit["path"])
    landing = f"/dandiset/{dandiset}/{version}"
    return AssetView(
        path=_shown(hit.get("highlights", {}), "path", hit["path"]),
        hit=hit,
        landing_url=landing,
        folder=folder,
        folder_url=f"{landing}/files?{urlencode({'location': folder})}",
    )


EXCERPT_CHARACTERS = 300


def dandiset_view(hit: Mapping[str, Any]) -> DandisetView:
    highlights = hit.get("highlights", {})
    description = hit.get("description") or ""
    if len(description) > EXCERPT_CHARACTERS:
        description = description[:EXCERPT_CHARACTERS].rsplit(" ", 1)[0] + " …"
    published = hit.get("most_recent_published_version")
    return DandisetView(
        name=_shown(highlights, "name", hit["name"]),
        excerpt=_shown(highlights, "description", description),
        hit=hit,
        url=f"/dandiset/{hit['identifier']}",
        version=published["version"] if published else "draft",
    )
