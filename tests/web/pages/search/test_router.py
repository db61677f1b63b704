"""`/search` over the real search API on its PostgreSQL backend (the corpus in conftest.py):
visible text, facets, ranges, paging, URL state, htmx fragments, escaping and refusals."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from factories import create_dandiset
from search.corpus import Corpus, add_nwb_asset
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import OutboxEntity
from dandelion_common.db.session import Database
from dandelion_common.outbox import emit
from dandelion_search.api.resources import SearchResources
from dandelion_search.indexer import drain

A1, A2, A3, A4 = (f"sub-0{i}/sub-0{i}_{k}.nwb" for i, k in
                  ((1, "ecephys"), (2, "ecephys"), (3, "icephys"), (4, "ophys")))  # fmt: skip


class Page(HTMLParser):
    """The parts of a search page the tests look at: links, checked boxes, inputs."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []  # (href, text)
        self.checked: set[tuple[str, str]] = set()  # (name, value)
        self.inputs: dict[str, str] = {}  # name -> value, for text and number inputs
        self._href: str | None = None
        self._text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a":
            self._href, self._text = a.get("href", ""), []
        elif tag == "input" and a.get("type") == "checkbox" and "checked" in a:
            self.checked.add((a["name"], a["value"]))
        elif tag == "input" and a.get("type") in ("search", "number", "hidden"):
            self.inputs[a["name"]] = a.get("value", "")

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, " ".join("".join(self._text).split())))
            self._href = None

    def link(self, text: str) -> str:
        """The href of the link whose text starts with `text`."""
        found = [href for href, label in self.links if label.startswith(text)]
        assert len(found) == 1, (text, self.links)
        return found[0]


async def get(client: httpx.AsyncClient, url: str, status: int = 200, **headers: str) -> str:
    answer = await client.get(url, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    return answer.text


def hit_paths(html: str) -> list[str]:
    return [
        unescape(re.sub("</?mark>", "", p))
        for p in re.findall(r"<h3><a [^>]*>(.*?)</a></h3>", html)
    ]


def count_of(html: str, label: str) -> str:
    """The count shown beside a facet value."""
    found = re.search(rf">{re.escape(label)} <span class=\"count\">([^<]*)</span>", html)
    assert found, label
    return found.group(1)


def query_of(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(unescape(url)).query, keep_blank_values=True)


async def test_text_search_finds_a_known_asset(
    web_client: httpx.AsyncClient, corpus: Corpus
) -> None:
    html = await get(web_client, "/search?kind=assets&q=icephys")
    assert hit_paths(html) == [A3]
    assert "Results: 1 file</h2>" in html
    page = Page(html)
    folder = page.link("sub-03/sub-03_")
    assert folder == f"/dandiset/{corpus.d2.id:06}/draft/files?location=sub-03"
    assert page.link("Slice physiology in cortex") == f"/dandiset/{corpus.d2.id:06}/draft"
    assert page.inputs["q"] == "icephys"


async def test_dandiset_hits_link_to_their_dandiset(
    web_client: httpx.AsyncClient, corpus: Corpus
) -> None:
    html = await get(web_client, "/search?q=hippocampus")
    assert "<mark>hippocampus</mark>" in html
    assert Page(html).link("Buzsáki hippocampus recordings") == f"/dandiset/{corpus.d1.id:06}"
    assert "Results: 1 dandiset</h2>" in html


async def test_two_facets_narrow_the_results_and_change_the_counts(
    web_client: httpx.AsyncClient, corpus: Corpus
) -> None:
    mice = await get(web_client, "/search?kind=assets&species=Mus+musculus")
    assert sorted(hit_paths(mice)) == [A2, A3]
    assert count_of(mice, "female (F)") == "2"
    # A facet's counts ignore its own selection: the rats are still counted.
    assert count_of(mice, "Rattus norvegicus") == "1"
    both = await get(web_client, "/search?kind=assets&species=Mus+musculus&region=VISp")
    assert hit_paths(both) == [A2]
    assert count_of(both, "female (F)") == "1"
    assert "Results: 1 file</h2>" in both
    assert Page(both).checked == {("species", "Mus musculus"), ("region", "VISp")}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("electrodes_min=100", {A2}),
        ("age_min=50&age_max=100", {A1, A2}),
        ("age_min=8&age_unit=weeks", {A1, A2}),  # 56 days and more
        ("age_max=0.1&age_unit=years", {A3}),  # 36.5 days at most
        ("size_min=25&size_max=25&size_unit=B", {A1, A2, A3}),
        ("size_min=1&size_unit=KB", set()),
    ],
)
async def test_a_range_filters_in_the_units_chosen(
    web_client: httpx.AsyncClient, corpus: Corpus, query: str, expected: set[str]
) -> None:
    html = await get(web_client, f"/search?kind=assets&{query}")
    assert set(hit_paths(html)) == expected
    if not expected:
        assert "Nothing matches this search." in html


async def test_paging_follows_the_cursor_forward_and_back(
    web_client: httpx.AsyncClient, corpus: Corpus
) -> None:
    url, seen, pages = "/search?kind=assets&species=Mus+musculus&sort=path&page_size=1", [], []
    while True:
        html = await get(web_client, url)
        pages.append(url)
        seen += hit_paths(html)
        links = {text: href for href, text in Page(html).links}
        if "Next page" not in links:
            break
        url = unescape(links["Next page"])
        assert ("species", "Mus musculus") in query_of(url)  # the filters travel with the cursor
    assert seen == [A2, A3]
    assert "Page 2" in html
    back = unescape(Page(html).link("Previous page"))
    assert hit_paths(await get(web_client, back)) == [A2]
    assert back == pages[0]


async def test_previous_links_reach_back_through_the_trail(
    web_client: httpx.AsyncClient, corpus: Corpus
) -> None:
    url, trail = "/search?kind=assets&sort=-path&page_size=1", []
    for _ in range(3):
        html = await get(web_client, url)
        trail.append(hit_paths(html))
        url = unescape(Page(html).link("Next page")) if "Next page" in html else url
    assert trail == [[A3], [A2], [A1]]
    for expected in ([A2], [A3]):
        url = unescape(Page(await get(web_client, url)).link("Previous page"))
        assert hit_paths(await get(web_client, url)) == expected


async def test_the_forms_state_is_in_its_links(
    web_client: httpx.AsyncClient, corpus: Corpus
) -> None:
    url = (
        "/search?q=ecephys&kind=assets&species=Mus+musculus&species=Rattus+norvegicus"
        "&age_min=1&age_unit=weeks"
    )
    html = await get(web_client, url)
    page = Page(html)
    assert page.checked == {("species", "Mus musculus"), ("species", "Rattus norvegicus")}
    assert (page.inputs["q"], page.inputs["age_min"], page.inputs["kind"]) == (
        "ecephys",
        "1",
        "assets",
    )
    assert re.search(r'name="age_unit">\s*<option>days</option><option selected>weeks<', html)
    # Removing one chip keeps everything else; the kind switch keeps the filters.
    without_rats = query_of(page.link("Species: Rattus norvegicus"))
    assert without_rats == [("q", "ecephys"), ("kind", "assets"), ("species", "Mus musculus"),
                            ("age_min", "1"), ("age_unit", "weeks")]  # fmt: skip
    assert hit_paths(await get(web_client, unescape(page.link("Species: Rattus")))) == [A2]
    dandisets = query_of(page.link("Dandisets ("))
    assert ("kind", "assets") not in dandisets
    assert ("age_unit", "weeks") in dandisets
    # The canonical URL of the page gives the same page.
    canonical = unescape(page.link("Files"))
    assert hit_paths(await get(web_client, canonical)) == hit_paths(html)


async def test_htmx_gets_the_results_block_and_a_history_restore_the_page(
    web_client: httpx.AsyncClient, corpus: Corpus
) -> None:
    url = "/search?q=ecephys&kind=assets&age_min=&age_max=&age_unit=days&sort=path&page_size=1"
    answer = await web_client.get(url, headers={"HX-Request": "true"})
    assert answer.status_code == 200
    canonical = "/search?q=ecephys&kind=assets&sort=path&page_size=1"
    assert answer.headers["HX-Push-Url"] == canonical
    assert "HX-Request" in answer.headers["Vary"]
    fragment = answer.text
    assert "<html" not in fragment
    assert "<h1>" not in fragment
    assert 'id="search-q"' not in fragment
    assert hit_paths(fragment) == [A1]
    # Links to other pages of this search are boosted into the block, links away are not.
    boosted = re.findall(r'<(?:nav|ul) class="(\w+)"[^>]*hx-boost="true"', fragment)
    assert boosted == ["kinds", "pager"]
    assert fragment.count("hx-boost") == 2
    restore = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    answer = await web_client.get(url, headers=restore)
    whole = answer.text
    assert answer.status_code == 200
    assert whole.startswith("<!doctype html>")
    assert hit_paths(whole) == [A1]


@pytest.fixture
async def hostile(session: AsyncSession, db: Database, search_resources: SearchResources) -> str:
    """A dandiset whose name and description carry markup, and an asset with it in its path."""
    from factories import create_user

    owner, _ = await create_user(session)
    dandiset, draft = await create_dandiset(
        session, owner=owner, name="<script>alert('name')</script> hippocampus <b>bold</b>"
    )
    draft.metadata_ = {
        **draft.metadata_,
        "description": "hippocampus </script><img src=x onerror=alert(1)> &amp; <mark>x</mark>",
    }
    await add_nwb_asset(session, draft, "sub-<script>x</script>/hippocampus.nwb")
    emit(session, OutboxEntity.DANDISET, dandiset.id)
    await session.commit()
    await drain(db, search_resources.search)
    return f"{dandiset.id:06}"


async def test_hostile_text_in_highlights_is_escaped(
    web_client: httpx.AsyncClient, hostile: str
) -> None:
    html = await get(web_client, "/search?q=hippocampus")
    assert "<script>alert" not in html
    assert "<img" not in html
    assert "<b>" not in html
    assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt; <mark>hippocampus</mark>" in html
    # PostgreSQL's ts_headline drops what its parser takes for tags; the rest is escaped.
    assert '<p class="excerpt"><mark>hippocampus</mark>  &lt;img src=x onerror=alert</p>' in html
    files = await get(web_client, "/search?q=hippocampus&kind=assets")
    assert "sub-&lt;script&gt;x&lt;/script&gt;/" in files
    assert "<script>x" not in files
    location = Page(files).link("sub-")
    assert location.endswith("files?location=sub-%3Cscript%3Ex%3C%2Fscript%3E")


INVALID = [
    ("age_min=9&age_max=3", "The maximum is below the minimum."),
    ("age_min=abc", "Enter a number"),
    ("size_max=inf", "Enter a number"),
    ("electrodes_min=2.5", "Enter a whole number."),
    ("electrodes_min=-1", "Enter 0 or more."),
    ("age_unit=fortnights&age_min=1", "Choose one of: days, weeks, months, years."),
    ("colour=red", "Unknown search parameter “colour”"),
    ("kind=videos", "Choose one of: dandisets, assets."),
    ("sort=path", "Choose one of: relevance"),  # a sort of assets, not of dandisets
    ("page_size=0", "Enter a whole number from 1 to 100."),
    ("q=%00", "Null characters are not allowed."),
    ("q=" + "a" * 1025, "Use at most 1,024 characters."),
    ("q=a&q=b", "Given more than once."),
    ("cursor=garbage", "This page link does not belong to this search"),
    ("kind=assets&cursor=" + "x" * 3000, "This page link is not one of this search"),
]


@pytest.mark.parametrize(("query", "message"), INVALID)
async def test_invalid_input_is_a_400_with_the_form(
    web_client: httpx.AsyncClient, corpus: Corpus, query: str, message: str
) -> None:
    html = await get(web_client, f"/search?{query}", status=400)
    assert "This search could not run" in html
    assert message in unescape(html)
    assert '<form id="search-form"' in html  # the form stays, to correct


async def test_an_invalid_htmx_request_is_sent_to_the_full_page(
    web_client: httpx.AsyncClient, corpus: Corpus
) -> None:
    answer = await web_client.get("/search?age_min=9&age_max=3", headers={"HX-Request": "true"})
    # htmx swaps no 400: it follows HX-Redirect to the whole page, which shows the errors.
    assert answer.status_code == 400
    assert answer.headers["HX-Redirect"] == "/search?age_min=9&age_max=3"


async def test_a_field_error_is_tied_to_its_input(web_client: httpx.AsyncClient) -> None:
    html = await get(web_client, "/search?age_min=9&age_max=3", status=400)
    assert re.search(
        r'id="search-age_max"[^>]*aria-describedby="search-age-help search-age_max-error"'
        r'[^>]*aria-invalid="true"',
        html,
    )
    assert '<a href="#search-age_max">Subject age: maximum</a>' in html


async def test_embargoed_content_is_absent_for_anonymous_visitors(
    web_client: httpx.AsyncClient, corpus: Corpus
) -> None:
    files = await get(web_client, "/search?kind=assets")
    assert sorted(hit_paths(files)) == [A1, A2, A3]
    assert "DANDI:" + f"{corpus.secret.id:06}" not in files
    assert count_of(files, "Mus musculus") == "2"  # the embargoed mouse is not counted
    dandisets = await get(web_client, "/search?q=secret")
    assert "Secret imaging study" not in dandisets
    assert "Nothing matches this search." in dandisets
    ophys = await get(web_client, "/search?kind=assets&q=ophys")
    assert hit_paths(ophys) == []


async def test_every_input_has_a_label(web_client: httpx.AsyncClient, corpus: Corpus) -> None:
    html = await get(web_client, "/search?kind=assets&species=Mus+musculus")
    ids = re.findall(r'<(?:input|select)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', html)
    assert len(ids) > 10
    for field_id in ids:
        assert f'<label for="{field_id}">' in html, field_id
    fieldsets, legends = html.count("<fieldset"), html.count("<legend>")
    assert fieldsets == legends > 3
    assert html.count("<h1>") == 1
