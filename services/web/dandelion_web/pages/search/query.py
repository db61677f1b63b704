"""The search page's state, all of it in the URL: parsed, checked, and turned back into links.

The page's parameters are the search API's own (`q`, the facet names, `sort`, `page_size`,
`cursor`) where a person can type them; ranges are in units a person reads (age in days,
weeks, months or years; sizes in decimal bytes up to TB, as `filesize` shows them) and are
converted to the API's days and bytes here. Every link the page shows is built from a
`SearchState`, so a bookmark, a reload and a shared link give the same page.

Paging is by the API's opaque cursor, which only goes forward. A page remembers the cursors
of the pages before it (`back`, the last MAX_BACK of them) and its number (`page`), so that
"Previous" is a plain link too; further back than that trail, "First page" remains.

A parameter the page does not know is refused, as the API refuses it: a misspelt facet must
not silently match everything.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from dandelion_common.web.inputs import problem

KINDS = ("dandisets", "assets")
DEFAULT_KIND = "dandisets"
# The search API's facet parameters, in the order the page shows them.
FACET_PARAMS = (
    "species",
    "sex",
    "approach",
    "technique",
    "variable",
    "region",
    "neurodata_type",
    "encoding_format",
    "dandiset",
)
SORTS: Mapping[str, tuple[str, ...]] = {
    "dandisets": ("relevance", "name", "-name", "identifier", "size", "-size", "modified",
                  "-modified"),
    "assets": ("relevance", "path", "-path", "size", "-size", "modified", "-modified"),
}  # fmt: skip
PAGE_SIZE = 20
MAX_PAGE_SIZE = 100  # the API's cap
MAX_QUERY_LENGTH = 1024  # the API's cap on `q`
MAX_VALUES = 100  # selected values per facet: bounds the URL and the API's filter
MAX_CURSOR_LENGTH = 2048
MAX_BACK = 10  # cursors of earlier pages kept in the URL (each ~100 characters)
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class RangeSpec:
    """A numeric filter: `{name}_min`, `{name}_max` (and `{name}_unit`) on the page."""

    name: str
    api_low: str
    api_high: str
    units: Mapping[str, float]  # unit -> the API's units per one of it; {} for plain counts
    default_unit: str = ""

    @property
    def params(self) -> tuple[str, str]:
        return (f"{self.name}_min", f"{self.name}_max")

    @property
    def unit_param(self) -> str:
        return f"{self.name}_unit"

    @property
    def integer(self) -> bool:
        return not self.units


AGE_UNITS = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12, "years": 365.25}
SIZE_UNITS = {"B": 1.0, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}  # as `filesize` counts
RANGES = (
    RangeSpec("age", "age_min_days", "age_max_days", AGE_UNITS, "days"),
    RangeSpec("size", "size_min", "size_max", SIZE_UNITS, "MB"),
    RangeSpec("electrodes", "electrodes_min", "electrodes_max", {}),
)
RANGE_SPECS = {spec.name: spec for spec in RANGES}

_SINGLE = {"q", "kind", "sort", "page_size", "cursor", "page"} | {
    p for spec in RANGES for p in (*spec.params, *([spec.unit_param] if spec.units else []))
}
_MULTI = {*FACET_PARAMS, "back"}


@dataclass(frozen=True)
class Bounds:
    low: float | None = None
    high: float | None = None
    unit: str = ""

    @property
    def empty(self) -> bool:
        return self.low is None and self.high is None


@dataclass(frozen=True)
class SearchState:
    """One search page: what it asks the API, and where each of its links leads."""

    q: str = ""
    kind: str = DEFAULT_KIND
    facets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    ranges: Mapping[str, Bounds] = field(default_factory=dict)
    sort: str = "relevance"
    page_size: int = PAGE_SIZE
    cursor: str | None = None
    back: tuple[str, ...] = ()
    page: int = 1

    # --- the URL ---------------------------------------------------------------------------

    def pairs(self) -> list[tuple[str, str]]:
        """The canonical query string: defaults and empty values left out."""
        pairs: list[tuple[str, str]] = []
        if self.q:
            pairs.append(("q", self.q))
        if self.kind != DEFAULT_KIND:
            pairs.append(("kind", self.kind))
        for name in FACET_PARAMS:
            pairs.extend((name, value) for value in self.facets.get(name, ()))
        for spec in RANGES:
            bounds = self.ranges.get(spec.name, Bounds())
            for param, value in zip(spec.params, (bounds.low, bounds.high), strict=True):
                if value is not None:
                    pairs.append((param, number_text(value)))
            if spec.units and not bounds.empty and bounds.unit != spec.default_unit:
                pairs.append((spec.unit_param, bounds.unit))
        if self.sort != "relevance":
            pairs.append(("sort", self.sort))
        if self.page_size != PAGE_SIZE:
            pairs.append(("page_size", str(self.page_size)))
        if self.cursor:
            pairs.extend([("cursor", self.cursor), ("page", str(self.page))])
            pairs.extend(("back", cursor) for cursor in self.back)
        return pairs

    @property
    def url(self) -> str:
        query = urlencode(self.pairs())
        return f"/search?{query}" if query else "/search"

    # --- the states its links lead to ------------------------------------------------------

    def restart(self) -> SearchState:
        """The first page of this search (any change of the filters starts there)."""
        return replace(self, cursor=None, back=(), page=1)

    def without_value(self, facet: str, value: str) -> SearchState:
        kept = tuple(v for v in self.facets.get(facet, ()) if v != value)
        return replace(self.restart(), facets={**self.facets, facet: kept})

    def without_range(self, name: str) -> SearchState:
        return replace(self.restart(), ranges={**self.ranges, name: Bounds()})

    def cleared(self) -> SearchState:
        """The same words and kind with no filter."""
        return SearchState(q=self.q, kind=self.kind, page_size=self.page_size)

    def of_kind(self, kind: str) -> SearchState:
        sort = self.sort if self.sort in SORTS[kind] else "relevance"
        return replace(self.restart(), kind=kind, sort=sort)

    def next(self, cursor: str) -> SearchState:
        back = (*self.back, self.cursor) if self.cursor else self.back
        return replace(self, cursor=cursor, back=back[-MAX_BACK:], page=self.page + 1)

    def previous(self) -> SearchState | None:
        """The page before, if the URL still remembers its cursor."""
        if self.back:
            return replace(self, cursor=self.back[-1], back=self.back[:-1], page=self.page - 1)
        if self.cursor and self.page == 2:
            return self.restart()
        return None

    @property
    def filtered(self) -> bool:
        return any(self.facets.values()) or any(not b.empty for b in self.ranges.values())

    # --- the search API's parameters -------------------------------------------------------

    def api_params(self, kind: str | None = None) -> dict[str, str | list[str]]:
        """The API call of this page (or of its first page of another kind)."""
        same = kind is None or kind == self.kind
        params: dict[str, str | list[str]] = {"page_size": str(self.page_size if same else 1)}
        if self.q:
            params["q"] = self.q
        for name, values in self.facets.items():
            if values:
                params[name] = list(values)
        for spec in RANGES:
            params.update(api_bounds(spec, self.ranges.get(spec.name, Bounds())))
        if same and self.sort != "relevance":
            params["sort"] = self.sort
        if same and self.cursor:
            params["cursor"] = self.cursor
        return params


def number_text(value: float) -> str:
    """A number as typed back into the URL: no exponent, no trailing `.0`."""
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def api_bounds(spec: RangeSpec, bounds: Bounds) -> dict[str, str]:
    """`bounds` in the API's units: days (a float) and bytes or counts (integers; a lower
    bound rounds up and an upper one down, so no value outside the typed range matches)."""
    factor = spec.units.get(bounds.unit, 1.0) if spec.units else 1.0
    params: dict[str, str] = {}
    for name, value, rounding in (
        (spec.api_low, bounds.low, math.ceil),
        (spec.api_high, bounds.high, math.floor),
    ):
        if value is None:
            continue
        scaled = value * factor
        if spec.name == "age":
            params[name] = number_text(scaled)
        else:
            params[name] = str(rounding(round(scaled, 6)))
    return params


# --- parsing -------------------------------------------------------------------------------


@dataclass
class Parsed:
    """The state read from a URL, what was wrong with it (by parameter; "form" for the URL as
    a whole), and the range inputs as typed (shown again next to their error)."""

    state: SearchState
    errors: dict[str, str]
    typed: dict[str, str]


def _number(text: str, *, integer: bool) -> float:
    """A finite number >= 0 (ValueError with the reason otherwise)."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError("Enter a number, such as 12 or 1.5.") from None
    if not math.isfinite(value):
        raise ValueError("Enter a number, such as 12 or 1.5.")
    if value < 0:
        raise ValueError("Enter 0 or more.")
    if integer and not value.is_integer():
        raise ValueError("Enter a whole number.")
    return value


class _Reader:
    """Collects a URL's values and the problems found in them."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self.errors: dict[str, str] = {}
        self.single: dict[str, str] = {}
        self.multi: dict[str, list[str]] = {name: [] for name in _MULTI}
        unknown: list[str] = []
        for name, value in items:
            if why := problem(name) or problem(value):
                self.errors.setdefault(name if name in _SINGLE | _MULTI else "form", why)
            elif name in _MULTI:
                if value and value not in self.multi[name]:
                    self.multi[name].append(value)
            elif name not in _SINGLE:
                unknown.append(name)
            elif name in self.single and value != self.single[name]:
                self.errors[name] = "Given more than once."
            else:
                self.single[name] = value.strip() if name != "q" else value
        if unknown:
            names = ", ".join(f"“{name}”" for name in unknown[:5])
            self.errors["form"] = (
                f"Unknown search parameter {names}. The filters are: {', '.join(FACET_PARAMS)}"
                ", and the ranges age, size and electrodes (with _min and _max)."
            )

    def text(self, name: str) -> str:
        return self.single.get(name, "")

    def choice(self, name: str, choices: Iterable[str], default: str) -> str:
        value = self.text(name) or default
        options = tuple(choices)
        if value not in options:
            self.errors[name] = f"Choose one of: {', '.join(options)}."
            return default
        return value

    def count(self, name: str, *, default: int, high: int) -> int:
        text = self.text(name)
        if not text:
            return default
        if not text.isdigit() or not 1 <= int(text) <= high:
            self.errors[name] = f"Enter a whole number from 1 to {high:,}."
            return default
        return int(text)


def _bounds(reader: _Reader, spec: RangeSpec, typed: dict[str, str]) -> Bounds:
    values: list[float | None] = []
    for param in spec.params:
        text = typed[param] = reader.text(param)
        try:
            values.append(_number(text, integer=spec.integer) if text else None)
        except ValueError as exc:
            reader.errors[param] = str(exc)
            values.append(None)
    low, high = values
    unit = reader.choice(spec.unit_param, spec.units, spec.default_unit) if spec.units else ""
    if low is not None and high is not None and low > high:
        reader.errors[spec.params[1]] = "The maximum is below the minimum."
    return Bounds(low, high, unit)


def parse(items: Iterable[tuple[str, str]]) -> Parsed:
    """The page's state from its query string (`request.query_params.multi_items()`)."""
    reader = _Reader(items)
    q = reader.text("q")
    if len(q) > MAX_QUERY_LENGTH:
        reader.errors["q"] = f"Use at most {MAX_QUERY_LENGTH:,} characters."
        q = q[:MAX_QUERY_LENGTH]
    kind = reader.choice("kind", KINDS, DEFAULT_KIND)
    facets: dict[str, tuple[str, ...]] = {}
    for name in FACET_PARAMS:
        values = reader.multi[name]
        if len(values) > MAX_VALUES:
            reader.errors[name] = f"Choose at most {MAX_VALUES} values."
        facets[name] = tuple(values[:MAX_VALUES])
    typed: dict[str, str] = {}
    ranges = {spec.name: _bounds(reader, spec, typed) for spec in RANGES}
    cursors = [reader.text("cursor"), *reader.multi["back"]]
    if any(len(cursor) > MAX_CURSOR_LENGTH for cursor in cursors):
        reader.errors["cursor"] = "This page link is not one of this search's pages."
    cursor = reader.text("cursor") or None
    state = SearchState(
        q=q,
        kind=kind,
        facets=facets,
        ranges=ranges,
        sort=reader.choice("sort", SORTS[kind], "relevance"),
        page_size=reader.count("page_size", default=PAGE_SIZE, high=MAX_PAGE_SIZE),
        cursor=cursor,
        # Without a cursor this is the first page, whatever else the URL says.
        back=tuple(reader.multi["back"][-MAX_BACK:]) if cursor else (),
        page=reader.count("page", default=2, high=MAX_PAGE) if cursor else 1,
    )
    return Parsed(state, reader.errors, typed)
