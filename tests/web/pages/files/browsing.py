"""What the file pages' tests share: dandisets with files made through the API's own
routes (`seed`), and pages parsed with the standard library (`parse`: links, table rows)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import httpx
from conftest import auth
from factories import create_blob, create_dandiset, create_user
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import EmbargoStatus


@dataclass
class Seeded:
    dandiset_id: str
    key: str
    ids: dict[str, str]  # path -> asset id

    @property
    def files(self) -> str:
        return f"/dandiset/{self.dandiset_id}/draft/files"

    def asset(self, path: str) -> str:
        return f"/dandiset/{self.dandiset_id}/draft/assets/{self.ids[path]}"


async def seed(
    client: httpx.AsyncClient,
    session: AsyncSession,
    files: Mapping[str, bytes | tuple[bytes, dict[str, Any]]],
    *,
    embargoed: bool = False,
) -> Seeded:
    """A new owner's draft holding `files` ({path: bytes, or (bytes, extra metadata)})."""
    owner, key = await create_user(session)
    status = EmbargoStatus.EMBARGOED if embargoed else EmbargoStatus.OPEN
    dandiset, _ = await create_dandiset(session, owner=owner, embargo_status=status)
    ident = f"{dandiset.id:06}"
    base = f"/api/dandisets/{ident}/versions/draft/assets/"
    ids = {}
    for path, spec in files.items():
        content, extra = spec if isinstance(spec, tuple) else (spec, {})
        blob = await create_blob(session, content=content)
        metadata = {"path": path, "encodingFormat": "application/x-nwb", **extra}
        body = {"blob_id": str(blob.id), "metadata": metadata}
        answer = await client.post(base, json=body, headers=auth(key))
        assert answer.status_code == 200, answer.text
        ids[path] = answer.json()["asset_id"]
    return Seeded(ident, key, ids)


@dataclass
class Link:
    href: str
    text: str
    attrs: dict[str, str]


class Parsed(HTMLParser):
    """The links of a page, the rows of its tables (cell texts) and its current crumbs."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[Link] = []
        self.rows: list[list[str]] = []
        self.current: list[str] = []
        self.terms: dict[str, list[str]] = {}  # each <dt>'s text -> its <dd>s' texts
        self._term: list[str] | None = None
        self._definition: list[str] | None = None
        self._last_term = ""
        self._link: Link | None = None
        self._cells: list[str] | None = None
        self._cell: list[str] | None = None
        self._current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "a":
            self._link = Link(found.get("href", ""), "", found)
        elif tag == "tr":
            self._cells = []
        elif tag in ("td", "th") and self._cells is not None:
            self._cell = []
        elif tag == "li" and "aria-current" in found:
            self._current = []
        elif tag == "dt":
            self._term = []
        elif tag == "dd":
            self._definition = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._link is not None:
            self.links.append(self._link)
            self._link = None
        elif tag in ("td", "th") and self._cell is not None and self._cells is not None:
            self._cells.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._cells is not None:
            self.rows.append(self._cells)
            self._cells = None
        elif tag == "li" and self._current is not None:
            self.current.append("".join(self._current).strip())
            self._current = None
        elif tag == "dt" and self._term is not None:
            self._last_term = " ".join("".join(self._term).split())
            self.terms[self._last_term] = []
            self._term = None
        elif tag == "dd" and self._definition is not None:
            text = " ".join("".join(self._definition).split())
            self.terms[self._last_term].append(text)
            self._definition = None

    def handle_data(self, data: str) -> None:
        for sink in (self._link, self._cell, self._current, self._term, self._definition):
            if isinstance(sink, Link):
                sink.text += data
            elif sink is not None:
                sink.append(data)

    def link(self, text: str) -> Link:
        """The one link whose text (stripped) is `text`."""
        found = [link for link in self.links if link.text.strip() == text]
        assert len(found) == 1, (text, [link.text for link in self.links])
        return found[0]

    def labelled(self, label: str) -> Link:
        found = [link for link in self.links if link.attrs.get("aria-label") == label]
        assert len(found) == 1, (label, [link.attrs for link in self.links])
        return found[0]


def parse(html: str) -> Parsed:
    page = Parsed()
    page.feed(html)
    return page
