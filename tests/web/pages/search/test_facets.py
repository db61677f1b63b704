"""Facet groups and chips of the search page."""

from __future__ import annotations

from dandelion_web.pages.search.facets import chips, count_text, facet_groups
from dandelion_web.pages.search.query import Bounds, SearchState

SPECIES = {
    "species": [{"value": "Mus musculus", "count": 1200}, {"value": "Homo sapiens", "count": 3}]
}


def test_estimated_counts_say_about() -> None:
    assert count_text(1200, exact=False) == "about 1,200"
    assert count_text(1200, exact=True) == "1,200"
    group = facet_groups(SearchState(), SPECIES, exact=False)[0]
    assert [o.count for o in group.options] == ["about 1,200", "about 3"]


def test_a_selected_value_the_api_no_longer_lists_stays_checked() -> None:
    state = SearchState(facets={"species": ("Danio rerio",)})
    group = facet_groups(state, SPECIES, exact=True)[0]
    assert [(o.value, o.selected, o.count) for o in group.options] == [
        ("Mus musculus", False, "1,200"),
        ("Homo sapiens", False, "3"),
        ("Danio rerio", True, None),
    ]
    assert group.selected == 1


def test_groups_without_values_are_left_out_and_ids_are_stable() -> None:
    groups = facet_groups(SearchState(), SPECIES, exact=True)
    assert [g.spec.param for g in groups] == ["species"]
    again = facet_groups(SearchState(), SPECIES, exact=True)
    assert [o.id for o in groups[0].options] == [o.id for o in again[0].options]
    assert len({o.id for o in groups[0].options}) == 2


def test_each_value_and_range_is_a_removable_chip() -> None:
    state = SearchState(
        facets={"sex": ("F",), "dandiset": ("000001",)},
        ranges={"age": Bounds(30, None, "days"), "size": Bounds(None, 2, "GB")},
        cursor="c",
        page=2,
    )
    found = {chip.label: chip.url for chip in chips(state)}
    assert found == {
        "Sex: female (F)": "/search?dandiset=000001&age_min=30&size_max=2&size_unit=GB",
        "Dandiset: DANDI:000001": "/search?sex=F&age_min=30&size_max=2&size_unit=GB",
        "Age: at least 30 days": "/search?sex=F&dandiset=000001&size_max=2&size_unit=GB",
        "Size: at most 2 GB": "/search?sex=F&dandiset=000001&age_min=30",
    }
