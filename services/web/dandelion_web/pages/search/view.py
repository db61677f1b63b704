"""What the template is given: the search's state, its facets, hits, counts and links.

The page is built from the API's answers only; the same context serves the whole page and
the results block htmx asks for. A page with invalid input is the same page with its form
filled in as typed, the problems beside their fields, and no results.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dandelion_web.pages.search.facets import FACETS, chips, facet_groups
from dandelion_web.pages.search.query import (
    KINDS,
    RANGES,
    SORTS,
    Bounds,
    Parsed,
    RangeSpec,
    SearchState,
)
from dandelion_web.pages.search.results import asset_view, dandiset_view

KIND_LABELS = {"dandisets": "Dandisets", "assets": "Files"}
NOUNS = {"dandisets": ("dandiset", "dandisets"), "assets": ("file", "files")}
SORT_LABELS = {
    "relevance": "Relevance",
    "name": "Name, A to Z",
    "-name": "Name, Z to A",
    "path": "Path, A to Z",
    "-path": "Path, Z to A",
    "identifier": "Identifier",
    "size": "Size, smallest first",
    "-size": "Size, largest first",
    "modified": "Modified, oldest first",
    "-modified": "Modified, newest first",
}
RANGE_TEXT: Mapping[str, tuple[str, str, Mapping[str, str]]] = {
    # name: (legend, unit explanation, what a match means by kind)
    "age": (
        "Subject age",
        "Months are 30.44 days and years 365.25 days.",
        {"assets": "The subject's age at the session.",
         "dandisets": "A dandiset matches when the ages of its subjects reach into the range."},
    ),
    "size": (
        "Size",
        "Decimal units: 1 KB is 1,000 bytes, 1 MB 1,000 KB.",
        {"assets": "The size of the file.", "dandisets": "The total size of the dandiset."},
    ),
    "electrodes": (
        "Electrodes",
        "A count of recording electrodes (channels), from the NWB file.",
        {"assets": "Electrodes in the recording.",
         "dandisets": "A dandiset matches when its files' electrode counts reach into the "
                      "range."},
    ),
}  # fmt: skip


@dataclass(frozen=True)
class RangeField:
    spec: RangeSpec
    legend: str
    help: str
    low: str
    high: str
    unit: str
    units: tuple[str, ...]
    step: str


def range_fields(state: SearchState, typed: Mapping[str, str]) -> list[RangeField]:
    fields = []
    for spec in RANGES:
        legend, units_help, meaning = RANGE_TEXT[spec.name]
        bounds = state.ranges.get(spec.name, Bounds())
        low_param, high_param = spec.params
        fields.append(
            RangeField(
                spec=spec,
                legend=legend,
                help=f"{meaning[state.kind]} {units_help}",
                low=typed.get(low_param, ""),
                high=typed.get(high_param, ""),
                unit=bounds.unit or spec.default_unit,
                units=tuple(spec.units),
                step="1" if spec.integer else "any",
            )
        )
    return fields


def total_text(page: Mapping[str, Any], kind: str) -> str:
    one, many = NOUNS[kind]
    count = int(page["count"])
    if not page["count_exact"]:
        return f"more than {count:,} {many}"
    return f"{count:,} {one if count == 1 else many}"


def _more(state: SearchState, page: Mapping[str, Any]) -> bool:
    """Whether a next page has hits: the API gives a cursor after every full page, even the
    last one, but an exact total tells that nothing follows."""
    if not page["cursor"]:
        return False
    shown = (state.page - 1) * state.page_size + len(page["results"])
    return not page["count_exact"] or shown < int(page["count"])


def _common(state: SearchState, typed: Mapping[str, str]) -> dict[str, Any]:
    return {
        "state": state,
        "kinds": KINDS,
        "kind_labels": KIND_LABELS,
        "sorts": [(value, SORT_LABELS[value]) for value in SORTS[state.kind]],
        "range_fields": range_fields(state, typed),
        "chips": chips(state),
        "cleared_url": state.cleared().url if state.filtered else None,
    }


def results_context(
    parsed: Parsed, page: Mapping[str, Any], other: Mapping[str, Any]
) -> dict[str, Any]:
    """The page for the API's answers: this kind's `page` and the other kind's count."""
    state = parsed.state
    exact = bool(page["facets_exact"])
    views = asset_view if state.kind == "assets" else dandiset_view
    tabs = {state.kind: page, next(k for k in KINDS if k != state.kind): other}
    previous = state.previous()
    return {
        **_common(state, parsed.typed),
        "errors": {},
        "problems": [],
        "groups": facet_groups(state, page["facets"], exact=exact),
        "facets_exact": exact,
        "tab_counts": {kind: total_text(answer, kind) for kind, answer in tabs.items()},
        "total": total_text(page, state.kind),
        "first": (state.page - 1) * state.page_size + 1,
        "hits": [views(hit) for hit in page["results"]],
        "next_url": state.next(page["cursor"]).url if _more(state, page) else None,
        "previous_url": previous.url if previous else None,
        "first_url": state.restart().url if state.page > 1 else None,
    }


def _field_names() -> dict[str, tuple[str, str | None]]:
    """Each parameter's name in an error summary, and the field it links to (if shown)."""
    names: dict[str, tuple[str, str | None]] = {
        "q": ("Words to find", "search-q"),
        "sort": ("Sort by", "search-sort"),
        "kind": ("Kind of result", None),
        "page_size": ("Results per page", None),
        "cursor": ("Page link", None),
        "back": ("Page link", None),
        "page": ("Page number", None),
    }
    for param, facet in FACETS.items():
        names[param] = (facet.label, None)
    for spec in RANGES:
        legend = RANGE_TEXT[spec.name][0]
        for param, end in zip(spec.params, ("minimum", "maximum"), strict=True):
            names[param] = (f"{legend}: {end}", f"search-{param}")
        names[spec.unit_param] = (f"{legend}: unit", f"search-{spec.unit_param}")
    return names


FIELD_NAMES = _field_names()


@dataclass(frozen=True)
class Problem:
    label: str | None
    field_id: str | None
    message: str


def problems(errors: Mapping[str, str]) -> list[Problem]:
    found = []
    for param, message in errors.items():
        label, field_id = FIELD_NAMES.get(param, (None, None))
        found.append(Problem(label, field_id, message))
    return found


def invalid_context(parsed: Parsed, errors: Mapping[str, str]) -> dict[str, Any]:
    """The form as typed, with `errors` by parameter, and no results."""
    state = parsed.state
    return {
        **_common(state, parsed.typed),
        "errors": dict(errors),
        "problems": problems(errors),
        "groups": facet_groups(state, {}, exact=True),
        "facets_exact": True,
        "tab_counts": {},
        "total": "",
        "first": 1,
        "hits": [],
        "next_url": None,
        "previous_url": None,
        "first_url": state.restart().url if state.cursor else None,
    }
