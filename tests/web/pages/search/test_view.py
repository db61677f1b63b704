"""The search page's counts and its Next link."""

from __future__ import annotations

from typing import Any

from dandelion_web.pages.search.query import SearchState, parse
from dandelion_web.pages.search.view import results_context, total_text


def page(count: int, shown: int, *, exact: bool = True, cursor: str | None = "c") -> dict[str, Any]:
    hit: dict[str, Any] = {
        "name": "n",
        "description": "",
        "highlights": {},
        "most_recent_published_version": None,
    }
    hits = [{**hit, "identifier": f"{n:06}"} for n in range(shown)]
    return {"count": count, "count_exact": exact, "cursor": cursor, "results": hits,
            "facets": {}, "facets_exact": True}  # fmt: skip


def test_a_capped_total_says_more_than() -> None:
    assert total_text(page(10_000, 0, exact=False), "assets") == "more than 10,000 files"
    assert total_text(page(1, 0), "dandisets") == "1 dandiset"


def test_no_next_link_after_the_last_hit_of_an_exact_total() -> None:
    parsed = parse([("page_size", "2")])
    assert results_context(parsed, page(4, 2), page(0, 0))["next_url"] is not None
    last = parse([("page_size", "2"), ("cursor", "c1"), ("page", "2")])
    assert results_context(last, page(4, 2), page(0, 0))["next_url"] is None
    capped = results_context(last, page(10_000, 2, exact=False), page(0, 0))
    assert capped["next_url"] == SearchState(page_size=2, cursor="c1", page=2).next("c").url
