"""The facet groups beside the results: each value a checkbox with its count, and each
selected value a removable chip.

The counts come from the API, which counts each facet without its own selection (choosing
"Mus musculus" still shows how many rats there are). When the API says the counts were
estimated (`facets_exact` false: the PostgreSQL backend samples a facet with more than
10,000 matches) every count reads "about"; otherwise they are shown as exact, as the API
states them. A selected value the API no longer lists (no match under the other filters, or
beyond its top values) stays on the form, checked, so submitting it does not drop it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dandelion_web.filters import number
from dandelion_web.pages.search.query import FACET_PARAMS, RANGES, Bounds, SearchState, number_text


@dataclass(frozen=True)
class FacetSpec:
    param: str
    label: str
    help: str = ""
    names: Mapping[str, str] = field(default_factory=dict)  # value -> how a person reads it
    prefix: str = ""

    def value_label(self, value: str) -> str:
        name = self.names.get(value)
        return f"{name} ({value})" if name else f"{self.prefix}{value}"


FACETS = {
    spec.param: spec
    for spec in (
        FacetSpec("species", "Species"),
        FacetSpec("sex", "Sex", names={"F": "female", "M": "male", "U": "unknown", "O": "other"}),
        FacetSpec("approach", "Approach"),
        FacetSpec(
            "technique",
            "Measurement technique",
            help="Broader techniques include narrower ones: patch clamp includes voltage and "
            "current clamp.",
        ),
        FacetSpec("variable", "Variable measured"),
        FacetSpec("region", "Brain region"),
        FacetSpec("neurodata_type", "Neurodata type"),
        FacetSpec(
            "encoding_format",
            "Data standard (file format)",
            names={"application/x-nwb": "NWB", "application/x-zarr": "Zarr"},
        ),
        FacetSpec("dandiset", "Dandiset", prefix="DANDI:"),
    )
}
assert tuple(FACETS) == FACET_PARAMS


def count_text(count: int, *, exact: bool) -> str:
    return number(count) if exact else f"about {number(count)}"


@dataclass(frozen=True)
class FacetOption:
    value: str
    label: str
    count: str | None
    selected: bool
    id: str


@dataclass(frozen=True)
class FacetGroup:
    spec: FacetSpec
    options: list[FacetOption]

    @property
    def selected(self) -> int:
        return sum(option.selected for option in self.options)


def _id(param: str, value: str) -> str:
    # Stable across answers, so htmx keeps the focus on the checkbox just clicked.
    return f"facet-{param}-{hashlib.sha256(value.encode()).hexdigest()[:12]}"


def facet_groups(state: SearchState, facets: Mapping[str, Any], *, exact: bool) -> list[FacetGroup]:
    """The groups with at least one value to show, in the page's order."""
    groups = []
    for param, spec in FACETS.items():
        chosen = state.facets.get(param, ())
        counts = {str(c["value"]): int(c["count"]) for c in facets.get(param, [])}
        values = [*counts, *(v for v in chosen if v not in counts)]
        options = [
            FacetOption(
                value=value,
                label=spec.value_label(value),
                count=count_text(counts[value], exact=exact) if value in counts else None,
                selected=value in chosen,
                id=_id(param, value),
            )
            for value in values
        ]
        if options:
            groups.append(FacetGroup(spec, options))
    return groups


@dataclass(frozen=True)
class Chip:
    label: str
    url: str


RANGE_LABELS = {"age": "Age", "size": "Size", "electrodes": "Electrodes"}


def _range_text(bounds: Bounds, unit: str) -> str:
    low = None if bounds.low is None else number_text(bounds.low)
    high = None if bounds.high is None else number_text(bounds.high)
    suffix = f" {unit}" if unit else ""
    if low is not None and high is not None:
        return f"{low} to {high}{suffix}"
    return f"at least {low}{suffix}" if low is not None else f"at most {high}{suffix}"


def chips(state: SearchState) -> list[Chip]:
    """One removable chip per selected value and per range."""
    found = [
        Chip(f"{spec.label}: {spec.value_label(value)}", state.without_value(param, value).url)
        for param, spec in FACETS.items()
        for value in state.facets.get(param, ())
    ]
    for spec in RANGES:
        bounds = state.ranges.get(spec.name, Bounds())
        if not bounds.empty:
            text = _range_text(bounds, bounds.unit)
            found.append(
                Chip(f"{RANGE_LABELS[spec.name]}: {text}", state.without_range(spec.name).url)
            )
    return found
