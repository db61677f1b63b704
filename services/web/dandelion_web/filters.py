"""Template filters: sizes, dates, numbers and user-written Markdown, all escape-safe.

`markdown` is the only filter that returns markup: descriptions are rendered by markdown-it
with raw HTML off and only http(s)/mailto links kept, so a hostile description can neither
inject a tag nor a `javascript:` link.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup

_UNITS = ("B", "KB", "MB", "GB", "TB", "PB", "EB")

# CommonMark without raw HTML; links are checked by `safe_url` below.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_MARKDOWN.validateLink = lambda url: safe_url(url) is not None  # type: ignore[method-assign]

_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})


def filesize(value: int | float | None) -> str:
    """Decimal units, as DANDI's web app shows sizes (1 KB = 1000 bytes)."""
    if value is None:
        return "—"
    size = float(value)
    for unit in _UNITS:
        if abs(size) < 1000 or unit == _UNITS[-1]:
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def date(value: str | datetime | None) -> str:
    moment = parse_time(value)
    return moment.strftime("%Y-%m-%d") if moment else "—"


def datetime_text(value: str | datetime | None) -> str:
    moment = parse_time(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def number(value: int | float | None) -> str:
    return "—" if value is None else f"{value:,}"


def safe_url(value: object) -> str | None:
    """`value` if it is an absolute http(s)/mailto URL or a site-relative path, else None:
    user-supplied links (related resources, homepages) never become `javascript:` links."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith("/") and not text.startswith("//"):
        return text
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        return None
    return text if scheme in _SAFE_SCHEMES else None


def markdown(value: str | None) -> Markup:
    # markdown-it escapes every text it does not turn into markup (html=False).
    return Markup(_MARKDOWN.render(value or ""))  # noqa: S704 - rendered with raw HTML off


def install(env: jinja2.Environment) -> None:
    env.filters.update(
        filesize=filesize,
        date=date,
        datetime=datetime_text,
        number=number,
        safe_url=safe_url,
        markdown=markdown,
    )
