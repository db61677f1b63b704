"""The `<meta>` tags of a landing page: Highwire Press `citation_*` tags (what Google
Scholar and Zotero read) and OpenGraph (what link previews read).

Pairs of (attribute value, content); the template escapes both. The OpenGraph description
is the description's plain text, cut to 300 characters. `citation_author` repeats,
one tag per author in citation order, and dates are `YYYY/MM/DD` as Google Scholar asks.
"""

from __future__ import annotations

from dataclasses import dataclass

from markdown_it import MarkdownIt

from dandelion_web.landing.citation import Citable

_MARKDOWN = MarkdownIt("commonmark", {"html": False})

OG_DESCRIPTION_MAX = 300


@dataclass(frozen=True)
class Tag:
    attribute: str  # "name" or "property" (OpenGraph's attribute)
    key: str
    content: str


def plain_text(markdown: str) -> str:
    """The words of a Markdown description without its markup (link previews show text)."""
    words: list[str] = []
    for block in _MARKDOWN.parse(markdown):
        if block.type == "inline":
            for token in block.children or []:
                if token.type in ("text", "code_inline"):
                    words.append(token.content)
                elif token.type in ("softbreak", "hardbreak"):
                    words.append(" ")
            words.append(" ")
    return " ".join("".join(words).split())


def short_text(text: str, limit: int = OG_DESCRIPTION_MAX) -> str:
    """One line of at most `limit` characters, cut at a word."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    head, _, _ = flat[: limit - 1].rpartition(" ")
    return (head or flat[: limit - 1]) + "…"


def citation_tags(work: Citable) -> list[Tag]:
    tags = [Tag("name", "citation_title", work.title)]
    tags += [Tag("name", "citation_author", a.name) for a in work.authors]
    if work.date:
        tags.append(Tag("name", "citation_publication_date", work.date.replace("-", "/")))
    elif work.year:
        tags.append(Tag("name", "citation_publication_date", str(work.year)))
    if work.doi:
        tags.append(Tag("name", "citation_doi", work.doi))
    tags.append(Tag("name", "citation_publisher", work.publisher))
    tags.append(Tag("name", "citation_public_url", work.url))
    return tags


def opengraph_tags(work: Citable, *, description: str, url: str, site: str) -> list[Tag]:
    return [
        Tag("property", "og:title", work.title or work.identifier),
        Tag("property", "og:description", short_text(plain_text(description)) or work.title),
        Tag("property", "og:url", url),
        Tag("property", "og:type", "website"),
        Tag("property", "og:site_name", site),
    ]
