"""The search core's vocabulary: what a query asks, who asks it, and what comes back.

Both backends take and return exactly these types, so the HTTP layer and the shared test
suite never see which engine answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Kind(StrEnum):
    """One index (OpenSearch) or table (PostgreSQL) per kind of document."""

    DANDISETS = "dandisets"
    ASSETS = "assets"


class Facet(StrEnum):
    """Multi-select keyword facets: OR within a facet, AND across facets."""

    SPECIES = "species"
    SEX = "sex"
    APPROACH = "approach"
    TECHNIQUE = "technique"
    VARIABLE = "variable"
    BRAIN_REGION = "brain_region"
    NEURODATA_TYPE = "neurodata_type"
    DANDISET = "dandiset"
    ENCODING_FORMAT = "encoding_format"


class RangeField(StrEnum):
    """Numeric range filters. A dandiset document holds the min and max over its assets and
    matches a range when they overlap it; an asset document holds one value."""

    AGE_DAYS = "age_days"
    SIZE = "size"
    ELECTRODE_COUNT = "electrode_count"

    @property
    def bounds(self) -> tuple[str, str]:
        """The (lowest, highest) stored fields of this range."""
        if self is RangeField.SIZE:
            return ("size", "size")
        return (f"{self.value}_min", f"{self.value}_max")


class SortKey(StrEnum):
    RELEVANCE = "relevance"
    ID = "id"
    NAME = "name"  # a dandiset's name, an asset's path
    SIZE = "size"
    MODIFIED = "modified"

    @property
    def field(self) -> str:
        return {SortKey.NAME: "sort_name"}.get(self, self.value)


class Range(BaseModel):
    model_config = ConfigDict(frozen=True)

    gte: float | None = None
    lte: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.gte is not None and self.lte is not None and self.gte > self.lte:
            raise ValueError("the lower bound is above the upper bound")
        return self


class Visibility(BaseModel):
    """Whose search this is: embargoed documents are seen only by their owners and admins."""

    model_config = ConfigDict(frozen=True)

    admin: bool = False
    owned_dandisets: frozenset[int] = frozenset()

    @classmethod
    def anonymous(cls) -> Visibility:
        return cls()

    @classmethod
    def owner_of(cls, dandiset_ids: set[int] | frozenset[int]) -> Visibility:
        return cls(owned_dandisets=frozenset(dandiset_ids))

    @classmethod
    def administrator(cls) -> Visibility:
        return cls(admin=True)


class SearchQuery(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Kind
    text: str = ""
    facets: Mapping[Facet, frozenset[str]] = Field(default_factory=dict)
    ranges: Mapping[RangeField, Range] = Field(default_factory=dict)
    sort: SortKey = SortKey.RELEVANCE
    descending: bool | None = None  # None: relevance descends, fields ascend
    size: int = Field(20, ge=0, le=1000)
    cursor: str | None = None
    facet_size: int = Field(50, ge=0, le=500)
    highlight: bool = True

    @property
    def is_descending(self) -> bool:
        if self.descending is None:
            return self.sort is SortKey.RELEVANCE
        return self.descending

    def selected(self) -> dict[Facet, frozenset[str]]:
        """The facets with at least one selected value."""
        return {facet: values for facet, values in self.facets.items() if values}


class Hit(BaseModel):
    id: str
    score: float | None
    document: dict[str, Any]
    highlights: dict[str, list[str]] = Field(default_factory=dict)


class FacetCount(BaseModel):
    value: str
    count: int


# Totals are exact up to this many matches and a lower bound above it, as with OpenSearch's
# default `track_total_hits`: an exact count of a broad query reads every match.
TOTAL_CAP = 10_000


class SearchResult(BaseModel):
    total: int
    hits: list[Hit]
    facets: dict[Facet, list[FacetCount]]
    next_cursor: str | None = None
    # False: there are more than `total` (= TOTAL_CAP) matches.
    total_exact: bool = True
    # False: the counts were estimated from a sample of the matches (PostgreSQL, when a
    # facet's matches exceed TOTAL_CAP); the order of the values is then approximate too.
    facets_exact: bool = True


class IndexRow(BaseModel):
    """What both backends store for one document: display document, text and facet fields.

    `title_text` and `body_text` are already folded (see `folding`); `document` is returned
    to callers as is.
    """

    id: str
    dandiset_id: int
    embargoed: bool
    title: str
    description: str = ""
    title_text: str
    body_text: str
    sort_name: str
    size: int = 0
    modified: datetime
    facets: dict[Facet, list[str]]
    ranges: dict[str, float | None] = Field(default_factory=dict)
    document: dict[str, Any]
