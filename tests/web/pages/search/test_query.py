"""The search page's URL state: parsing, canonical URLs, links, and the API's parameters."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from dandelion_web.pages.search.query import MAX_BACK, Bounds, SearchState, parse


def state_of(url: str) -> SearchState:
    parsed = parse(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    assert parsed.errors == {}
    return parsed.state


def test_a_state_survives_its_own_url() -> None:
    state = state_of(
        "/search?q=place+cells&kind=assets&species=Mus+musculus&species=Rattus+norvegicus"
        "&region=CA1&age_min=2.5&age_max=12&age_unit=weeks&size_min=1&electrodes_max=64"
        "&sort=-size&page_size=5&cursor=c2&page=3&back=c1"
    )
    assert state.facets["species"] == ("Mus musculus", "Rattus norvegicus")
    assert state.ranges["age"] == Bounds(2.5, 12, "weeks")
    assert (state.cursor, state.back, state.page) == ("c2", ("c1",), 3)
    assert state_of(state.url) == state
    assert state_of(state.url).url == state.url


def test_empty_and_default_values_leave_the_url() -> None:
    state = state_of("/search?q=&kind=dandisets&age_min=&age_max=&age_unit=days&size_unit=GB"
                     "&sort=relevance&page_size=20")  # fmt: skip
    assert state.url == "/search"


def test_the_api_gets_days_and_bytes() -> None:
    state = state_of("/search?age_min=1.5&age_max=2&age_unit=years&size_min=1.5&size_max=2"
                     "&size_unit=GB&electrodes_min=3")  # fmt: skip
    params = state.api_params()
    assert params["age_min_days"] == "547.875"
    assert params["age_max_days"] == "730.5"
    assert (params["size_min"], params["size_max"]) == ("1500000000", "2000000000")
    assert params["electrodes_min"] == "3"


def test_fractional_bytes_round_inwards() -> None:
    params = state_of("/search?size_min=0.0015&size_max=0.0025&size_unit=KB").api_params()
    assert (params["size_min"], params["size_max"]) == ("2", "2")


def test_the_other_kinds_count_is_asked_without_paging_or_sort() -> None:
    state = state_of("/search?kind=assets&q=x&species=a&sort=-path&cursor=c&page=2")
    assert state.api_params("dandisets") == {"page_size": "1", "q": "x", "species": ["a"]}
    assert state.api_params()["cursor"] == "c"


def test_changing_a_filter_or_the_kind_starts_at_the_first_page() -> None:
    state = state_of("/search?kind=assets&species=a&species=b&sort=-path&cursor=c2&page=3&back=c1")
    assert state.without_value("species", "a").url == "/search?kind=assets&species=b&sort=-path"
    # -path is no sort of dandisets: relevance replaces it.
    assert state.of_kind("dandisets").url == "/search?species=a&species=b"
    assert state.cleared().url == "/search?kind=assets"


def test_next_and_previous_walk_a_trail_of_cursors() -> None:
    first = SearchState()
    second = first.next("c1")
    third = second.next("c2")
    assert (third.cursor, third.back, third.page) == ("c2", ("c1",), 3)
    assert third.previous() == second
    assert second.previous() == first
    assert first.previous() is None


def test_the_trail_keeps_the_last_pages_only() -> None:
    state = SearchState()
    for n in range(1, MAX_BACK + 4):
        state = state.next(f"c{n}")
    assert len(state.back) == MAX_BACK
    for _ in range(MAX_BACK):
        previous = state.previous()
        assert previous is not None
        state = previous
    assert state.page == 4
    assert state.previous() is None


def test_a_page_without_a_cursor_is_the_first() -> None:
    state = state_of("/search?page=7&back=c1")
    assert (state.page, state.back) == (1, ())


def test_several_problems_are_reported_together() -> None:
    parsed = parse([("age_min", "x"), ("electrodes_max", "1.5"), ("species", "\x01"), ("foo", "")])
    assert set(parsed.errors) == {"age_min", "electrodes_max", "species", "form"}
    assert parsed.typed["age_min"] == "x"  # shown again as typed
