"""The dandiset list (`/dandiset/`), DANDI's search results page and `/dandiset/{id}`."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser

import httpx
import pytest
from factories import create_dandiset, create_user
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import EmbargoStatus, VersionStatus
from dandelion_common.db.models import DandisetStar, User, Version
from dandelion_web.pages import dandisets as page


class Rows(HTMLParser):
    """The dandiset names of a list page, in order (the row headers' links)."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.links: list[str] = []
        self._in_row_header = False
        self._in_link = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "th" and ("scope", "row") in attrs:
            self._in_row_header = True
        if tag == "a" and self._in_row_header:
            self._in_link = True
            self.links.append(dict(attrs)["href"] or "")
            self.names.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._in_link = False
        if tag == "th":
            self._in_row_header = False

    def handle_data(self, data: str) -> None:
        if self._in_link:
            self.names[-1] += data


def names(html: str) -> list[str]:
    parser = Rows()
    parser.feed(html)
    return parser.names


async def dandiset(
    session: AsyncSession,
    owner: User,
    name: str,
    *,
    modified: int = 1,
    assets: int = 1,
    size: int = 0,
    embargoed: bool = False,
) -> Version:
    """A dandiset whose draft holds `assets` files of `size` bytes, modified on day `modified`
    of January 2026 (rows of one transaction share `now()`, so the test sets it)."""
    status = EmbargoStatus.EMBARGOED if embargoed else EmbargoStatus.OPEN
    _, draft = await create_dandiset(session, owner=owner, name=name, embargo_status=status)
    draft.asset_count, draft.size = assets, size
    draft.modified = datetime(2026, 1, modified, tzinfo=UTC)
    await session.flush()
    return draft


async def publish(session: AsyncSession, draft: Version, version: str) -> Version:
    """What a publish leaves: a version beside the draft with the draft's name and counts."""
    published = Version(
        dandiset_id=draft.dandiset_id,
        version=version,
        name=draft.name,
        metadata_=dict(draft.metadata_),
        status=VersionStatus.PUBLISHED,
        asset_count=draft.asset_count,
        size=draft.size,
    )
    session.add(published)
    await session.flush()
    return published


@pytest.fixture
async def owner(session: AsyncSession) -> User:
    user, _ = await create_user(session)
    return user


@pytest.fixture
async def three(session: AsyncSession, owner: User) -> list[Version]:
    """Three dandisets whose identifier, name, size and modified orders all differ."""
    return [
        await dandiset(session, owner, "Bat sonar", modified=2, size=300),
        await dandiset(session, owner, "Cricket song", modified=3, size=100),
        await dandiset(session, owner, "Ape gaze", modified=1, size=200),
    ]


@pytest.mark.parametrize(
    ("option", "descending"),
    [
        (0, ["Cricket song", "Bat sonar", "Ape gaze"]),  # modified
        (1, ["Ape gaze", "Cricket song", "Bat sonar"]),  # identifier
        (2, ["Cricket song", "Bat sonar", "Ape gaze"]),  # name
        (3, ["Bat sonar", "Ape gaze", "Cricket song"]),  # size
    ],
)
async def test_each_sort_option_orders_the_list_both_ways(
    web_client: httpx.AsyncClient, three: list[Version], option: int, descending: list[str]
) -> None:
    down = await web_client.get("/dandiset/", params={"sortOption": option, "sortDir": -1})
    up = await web_client.get("/dandiset/", params={"sortOption": option, "sortDir": 1})
    assert down.status_code == up.status_code == 200
    assert names(down.text) == descending
    assert names(up.text) == descending[::-1]


async def test_sort_option_4_orders_by_stars(
    web_client: httpx.AsyncClient, session: AsyncSession, three: list[Version]
) -> None:
    # DANDI's fifth sorting option; the API orders by star count too, so it is honoured.
    fans = [(await create_user(session))[0] for _ in range(3)]
    for draft, stars in zip(three, (1, 3, 0), strict=True):
        session.add_all(
            DandisetStar(dandiset_id=draft.dandiset_id, user_id=u.id) for u in fans[:stars]
        )
    await session.flush()
    answer = await web_client.get("/dandiset/", params={"sortOption": "4", "sortDir": "-1"})
    assert names(answer.text) == ["Cricket song", "Bat sonar", "Ape gaze"]
    assert '<option value="4" selected>Stars</option>' in answer.text


async def test_the_default_is_newest_first_with_the_controls_showing_it(
    web_client: httpx.AsyncClient, three: list[Version]
) -> None:
    answer = await web_client.get("/dandiset/")
    assert names(answer.text) == ["Cricket song", "Bat sonar", "Ape gaze"]
    assert '<option value="0" selected>Modified</option>' in answer.text
    assert '<option value="-1" selected>Descending</option>' in answer.text
    assert "3 dandisets" in answer.text


async def test_the_address_without_a_slash_is_the_same_list(
    web_client: httpx.AsyncClient, three: list[Version]
) -> None:
    answer = await web_client.get("/dandiset")
    assert answer.status_code == 200
    assert len(names(answer.text)) == 3


async def test_a_row_links_the_dandiset_and_shows_its_published_version(
    web_client: httpx.AsyncClient, session: AsyncSession, owner: User
) -> None:
    draft = await dandiset(session, owner, "Owl flight", assets=3, size=2_500_000)
    draft.metadata_ = {
        **draft.metadata_,
        "contributor": [{"name": "Doe, Jane", "roleName": ["dcite:ContactPerson"]}],
    }
    await publish(session, draft, "0.260102.1200")
    answer = await web_client.get("/dandiset/")
    identifier = f"{draft.dandiset_id:06}"
    parser = Rows()
    parser.feed(answer.text)
    assert parser.links == [f"/dandiset/{identifier}"]
    assert f"<td>DANDI:{identifier}</td>" in answer.text
    assert "<td>0.260102.1200</td>" in answer.text
    assert "<td>Doe, Jane</td>" in answer.text
    assert '<td class="num">3</td>' in answer.text
    assert '<td class="num">2.5 MB</td>' in answer.text


async def test_show_drafts_and_show_empty_toggle_what_is_listed(
    web_client: httpx.AsyncClient, session: AsyncSession, owner: User
) -> None:
    await publish(session, await dandiset(session, owner, "Published"), "0.260101.1200")
    await dandiset(session, owner, "Draft only")
    await dandiset(session, owner, "Empty", assets=0)

    async def listed(**params: str | list[str]) -> set[str]:
        answer = await web_client.get("/dandiset/", params=params)
        assert answer.status_code == 200
        return set(names(answer.text))

    assert await listed() == {"Published", "Draft only"}  # DANDI's defaults
    assert await listed(showEmpty="true") == {"Published", "Draft only", "Empty"}
    assert await listed(showDrafts="false") == {"Published"}
    # As the form sends them without JavaScript: a hidden "false", then a ticked box's "true".
    both = {"showDrafts": ["false", "true"], "showEmpty": ["false", "true"]}
    assert await listed(**both) == {"Published", "Draft only", "Empty"}
    assert await listed(showDrafts=["false", "true"], showEmpty=["false"]) == {
        "Published",
        "Draft only",
    }
    assert await listed(showDrafts=["false"], showEmpty=["false"]) == {"Published"}


async def test_the_checkboxes_follow_a_hidden_false_and_reflect_the_state(
    web_client: httpx.AsyncClient,
) -> None:
    html = (await web_client.get("/dandiset/", params={"showDrafts": "false"})).text
    hidden = '<input type="hidden" name="showDrafts" value="false">'
    box = '<input type="checkbox" name="showDrafts" value="true">'
    assert hidden in html
    assert box in html
    assert html.index(hidden) < html.index(box)
    assert '<input type="checkbox" name="showEmpty" value="true">' in html


async def test_pages_of_25_with_links_that_keep_the_state(
    web_client: httpx.AsyncClient, session: AsyncSession, owner: User
) -> None:
    for n in range(26):
        await dandiset(session, owner, f"Study {n:02}")
    params = {"sortOption": "2", "sortDir": "1"}
    first = await web_client.get("/dandiset/", params=params)
    assert names(first.text) == [f"Study {n:02}" for n in range(25)]
    assert "page 1 of 2" in first.text
    next_link = (
        "/dandiset/?sortOption=2&amp;sortDir=1&amp;showDrafts=true&amp;showEmpty=false&amp;page=2"
    )
    assert f'<a href="{next_link}" rel="next">Next</a>' in first.text
    assert 'rel="prev"' not in first.text
    second = await web_client.get("/dandiset/", params={**params, "page": "2"})
    assert names(second.text) == ["Study 25"]
    assert 'rel="prev"' in second.text
    assert 'rel="next"' not in second.text
    assert 'aria-current="page" aria-label="Page 2"' in second.text


async def test_a_page_past_the_end_is_a_404_page(
    web_client: httpx.AsyncClient, three: list[Version]
) -> None:
    answer = await web_client.get("/dandiset/", params={"page": "2"})
    assert answer.status_code == 404
    assert "Page 2 is past the end of this list." in answer.text


def test_the_pager_leaves_out_runs_of_pages() -> None:
    assert page.pager(1, 1) == [1]
    assert page.pager(5, 10) == [1, None, 3, 4, 5, 6, 7, None, 10]
    assert page.pager(2, 4) == [1, 2, 3, 4]


async def test_search_filters_the_list_and_fills_the_field(
    web_client: httpx.AsyncClient, three: list[Version]
) -> None:
    for path in ("/dandiset/", "/dandiset/search"):
        answer = await web_client.get(path, params={"search": "cricket"})
        assert answer.status_code == 200
        assert names(answer.text) == ["Cricket song"]
        assert 'name="search" type="search" value="cricket"' in answer.text
        assert "1 dandiset found" in answer.text
        # Result pages are not for search engines' indexes; the list itself is.
        assert '<meta name="robots" content="noindex, follow">' in answer.text


async def test_the_search_page_shows_empty_dandisets_by_default(
    web_client: httpx.AsyncClient, session: AsyncSession, owner: User
) -> None:
    await dandiset(session, owner, "Empty heron", assets=0)
    searched = await web_client.get("/dandiset/search", params={"search": "heron"})
    assert names(searched.text) == ["Empty heron"]
    listed = await web_client.get("/dandiset/", params={"search": "heron"})
    assert names(listed.text) == []
    assert "<h1>Search dandisets</h1>" in searched.text


async def test_a_search_the_api_cannot_parse_is_a_400_page_with_the_form(
    web_client: httpx.AsyncClient,
) -> None:
    answer = await web_client.get("/dandiset/search", params={"search": "nosuchoperator:x"})
    assert answer.status_code == 400
    assert '<p class="banner" role="alert">search: ' in answer.text
    assert 'value="nosuchoperator:x"' in answer.text


async def test_hostile_names_and_searches_are_shown_as_text(
    web_client: httpx.AsyncClient, session: AsyncSession, owner: User
) -> None:
    await dandiset(session, owner, "<script>alert(1)</script>")
    answer = await web_client.get("/dandiset/", params={"search": '"><script>x</script>'})
    assert "<script>alert" not in answer.text
    assert "<script>x" not in answer.text
    answer = await web_client.get("/dandiset/")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text
    assert names(answer.text) == ["<script>alert(1)</script>"]


async def test_embargoed_dandisets_are_listed_for_nobody_anonymous(
    web_client: httpx.AsyncClient, session: AsyncSession, owner: User
) -> None:
    await dandiset(session, owner, "Open")
    await dandiset(session, owner, "Secret", embargoed=True)
    answer = await web_client.get("/dandiset/", params={"showEmpty": "true"})
    assert names(answer.text) == ["Open"]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"sortOption": "9"}, "sortOption='9'"),
        ({"sortOption": "x"}, "sortOption='x'"),
        ({"sortDir": "0"}, "sortDir='0'"),
        ({"page": "-1"}, "page='-1'"),
        ({"page": "0"}, "page='0'"),
        ({"page": "abc"}, "page='abc'"),
        ({"page": "9" * 40}, "page="),
        ({"showDrafts": "maybe"}, "showDrafts='maybe'"),
    ],
)
async def test_bad_parameters_are_a_readable_400_page(
    web_client: httpx.AsyncClient, params: dict[str, str], named: str
) -> None:
    answer = await web_client.get("/dandiset/", params=params)
    assert answer.status_code == 400
    assert "<h1>Bad request</h1>" in answer.text
    assert f"The parameter {named}".replace("'", "&#39;") in answer.text


async def test_htmx_gets_only_the_results_block(
    web_client: httpx.AsyncClient, three: list[Version]
) -> None:
    answer = await web_client.get(
        "/dandiset/", params={"sortOption": "2", "sortDir": "1"}, headers={"HX-Request": "true"}
    )
    assert answer.status_code == 200
    assert names(answer.text) == ["Ape gaze", "Bat sonar", "Cricket song"]
    assert "<html" not in answer.text
    assert "<form" not in answer.text
    assert "HX-Request" in answer.headers["vary"]
    whole = (await web_client.get("/dandiset/")).text
    assert 'hx-get="/dandiset/" hx-target="#results" hx-push-url="true"' in whole
    assert '<div id="results">' in whole


async def test_a_dandiset_address_leads_to_its_latest_published_version(
    web_client: httpx.AsyncClient, session: AsyncSession, owner: User
) -> None:
    draft = await dandiset(session, owner, "Published twice")
    await publish(session, draft, "0.260101.1200")
    await publish(session, draft, "0.260102.1200")
    identifier = f"{draft.dandiset_id:06}"
    answer = await web_client.get(f"/dandiset/{identifier}")
    assert answer.status_code == 302
    assert answer.headers["location"] == f"/dandiset/{identifier}/0.260102.1200"


async def test_a_dandiset_never_published_leads_to_its_draft(
    web_client: httpx.AsyncClient, session: AsyncSession, owner: User
) -> None:
    draft = await dandiset(session, owner, "Unpublished")
    identifier = f"{draft.dandiset_id:06}"
    answer = await web_client.get(f"/dandiset/{identifier}")
    assert answer.status_code == 302
    assert answer.headers["location"] == f"/dandiset/{identifier}/draft"


@pytest.mark.parametrize("identifier", ["999999", "12345", "abcdef", "0000001"])
async def test_an_unknown_or_malformed_identifier_is_a_404_page(
    web_client: httpx.AsyncClient, identifier: str
) -> None:
    answer = await web_client.get(f"/dandiset/{identifier}")
    assert answer.status_code == 404
    assert "<h1>Not found</h1>" in answer.text
