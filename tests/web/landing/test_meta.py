"""The landing page's `<meta>` tags: Highwire `citation_*` and OpenGraph."""

from __future__ import annotations

from typing import Any

from dandelion_web.landing.citation import citable
from dandelion_web.landing.meta import Tag, citation_tags, opengraph_tags, plain_text, short_text

URL = "https://web.example.org/dandiset/000123/draft"


def work(**metadata: Any) -> Any:
    document = {"name": "CA1", "identifier": "DANDI:000123", "version": "draft", **metadata}
    return citable(document, publisher="DANDI Archive", url=URL)


def test_a_published_version_has_one_author_tag_each_a_date_and_its_doi() -> None:
    tags = citation_tags(
        work(
            contributor=[{"name": "Lovelace, Ada"}, {"name": "Babbage, Charles"}],
            datePublished="2024-03-15T12:00:00Z",
            doi="10.80507/dandi.000123/0.240315.1200",
        )
    )
    assert tags == [
        Tag("name", "citation_title", "CA1"),
        Tag("name", "citation_author", "Lovelace, Ada"),
        Tag("name", "citation_author", "Babbage, Charles"),
        Tag("name", "citation_publication_date", "2024/03/15"),
        Tag("name", "citation_doi", "10.80507/dandi.000123/0.240315.1200"),
        Tag("name", "citation_publisher", "DANDI Archive"),
        Tag("name", "citation_public_url", URL),
    ]


def test_a_draft_has_no_doi_and_the_year_it_was_created() -> None:
    tags = {t.key: t.content for t in citation_tags(work(dateCreated="2023-05-01T00:00:00Z"))}
    assert tags["citation_publication_date"] == "2023"
    assert "citation_doi" not in tags


def test_opengraph_describes_the_page_in_plain_short_text() -> None:
    description = "Tetrodes in **CA1** of [mice](https://example.org).\nMore.\n\n" + "word " * 200
    tags = {t.key: t for t in opengraph_tags(work(), description=description, url=URL, site="X")}
    assert all(t.attribute == "property" for t in tags.values())
    assert tags["og:url"].content == URL
    assert tags["og:type"].content == "website"
    text = tags["og:description"].content
    assert text.startswith("Tetrodes in CA1 of mice. More. word")
    assert len(text) <= 300
    assert text.endswith("word…")


def test_an_empty_description_falls_back_to_the_title() -> None:
    tags = {t.key: t.content for t in opengraph_tags(work(), description="", url=URL, site="X")}
    assert tags["og:description"] == "CA1"


def test_plain_and_short_text() -> None:
    assert plain_text("# Title\n\n- one `two`\n- three  \nfour") == "Title one two three four"
    assert short_text("a b c", 10) == "a b c"
    assert short_text("abcdefghijkl", 5) == "abcd…"
