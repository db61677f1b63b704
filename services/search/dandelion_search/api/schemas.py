"""Query parameters and responses of `/api/search/assets/` and `/api/search/dandisets/`."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from dandelion_search.documents import AssetDocument, DandisetDocument

MAX_QUERY_LENGTH = 1024  # DANDI's cap on `search=`
MAX_PAGE_SIZE = 100


def _values(description: str, *examples: str) -> Any:
    return Field(default_factory=list, description=description, examples=[list(examples)])


SORT_DESCRIPTION = (
    "`relevance` or a field; a leading `-` sorts descending. On the PostgreSQL backend a "
    "text search with more than 10,000 matches ranks its first 1,000 matches."
)


class SearchParams(BaseModel):
    """Filters shared by both kinds: OR within a facet, AND across facets and ranges."""

    # Unknown parameters are a 400: a misspelt facet must not silently match everything.
    model_config = ConfigDict(extra="forbid")

    q: str = Field(
        "",
        max_length=MAX_QUERY_LENGTH,
        description="Free text; every word must match (accent- and case-insensitive).",
        examples=["hippocampus place cells"],
    )
    species: list[str] = _values("Species (repeat for several).", "Mus musculus")
    sex: list[str] = _values("Sex of the subjects.", "F")
    approach: list[str] = _values("Approach.", "electrophysiological approach")
    technique: list[str] = _values(
        "Measurement technique; follows the NWB type hierarchy, so `patch clamp technique` "
        "finds voltage- and current-clamp data.",
        "patch clamp technique",
    )
    variable: list[str] = _values("Variable measured (NWB neurodata types).", "ElectricalSeries")
    region: list[str] = _values("Brain region (electrode or imaging plane location).", "CA1")
    neurodata_type: list[str] = _values("NWB neurodata type.", "Units")
    encoding_format: list[str] = _values("Media type of the file.", "application/x-nwb")
    dandiset: list[str] = _values("Dandiset identifier.", "000001")
    age_min_days: float | None = Field(None, ge=0, description="Youngest subject age, in days.")
    age_max_days: float | None = Field(None, ge=0, description="Oldest subject age, in days.")
    size_min: int | None = Field(None, ge=0, description="Smallest size, in bytes.")
    size_max: int | None = Field(None, ge=0, description="Largest size, in bytes.")
    electrodes_min: int | None = Field(None, ge=0, description="Fewest electrodes.")
    electrodes_max: int | None = Field(None, ge=0, description="Most electrodes.")
    cursor: str | None = Field(
        None, description="The `cursor` of the previous page (opaque; bound to `sort`)."
    )
    page_size: int = Field(20, ge=1, le=MAX_PAGE_SIZE, description="Results per page.")


class AssetSearchParams(SearchParams):
    sort: Literal["relevance", "path", "-path", "size", "-size", "modified", "-modified"] = Field(
        "relevance", description=SORT_DESCRIPTION
    )


class DandisetSearchParams(SearchParams):
    sort: Literal[
        "relevance", "identifier", "name", "-name", "size", "-size", "modified", "-modified"
    ] = Field("relevance", description=SORT_DESCRIPTION)


class FacetValue(BaseModel):
    value: str
    count: int


class Scored(BaseModel):
    score: float | None = Field(description="Relevance (only when sorted by relevance).")
    highlights: dict[str, list[str]] = Field(
        description="Matched words wrapped in `<mark>`, by field (`name`/`path`, `description`)."
    )


class AssetHit(Scored, AssetDocument):
    version: str = Field(description="The newest version holding the asset.")
    download_url: str = Field(description="The API URL that redirects to the file.")


class DandisetHit(Scored, DandisetDocument):
    url: str = Field(description="The dandiset in the DANDI-compatible API.")


HitT = TypeVar("HitT", AssetHit, DandisetHit)


class SearchPage(BaseModel, Generic[HitT]):
    count: int = Field(
        description="Matches in total (all pages): exact up to 10,000, else 10,000 and "
        "`count_exact` is false."
    )
    count_exact: bool = Field(description="False when there are more than `count` matches.")
    next: str | None = Field(description="The next page's URL; null on the last page.")
    cursor: str | None = Field(description="The next page's cursor; null on the last page.")
    results: list[HitT]
    facets: dict[str, list[FacetValue]] = Field(
        description="Counts per facet value; each facet's counts ignore its own selection."
    )
    facets_exact: bool = Field(
        description="False when the counts were estimated from a sample of more than 10,000 "
        "matches (PostgreSQL backend); their order is then approximate too."
    )


ASSET_PAGE_EXAMPLE: dict[str, Any] = {
    "count": 1,
    "count_exact": True,
    "next": None,
    "cursor": None,
    "results": [
        {
            "asset_id": "7a3e1c52-5a4e-4c1e-9d43-1f0b8f6f7c11",
            "path": "sub-01/sub-01_ecephys.nwb",
            "dandiset_id": "000001",
            "dandiset_name": "Hippocampus recordings",
            "versions": ["draft", "0.240101.1200"],
            "version": "0.240101.1200",
            "download_url": "https://api.example.org/api/assets/7a3e1c52-5a4e-4c1e-9d43-1f0b8f6f7c11/download/",
            "embargoed": False,
            "size": 1048576,
            "encoding_format": "application/x-nwb",
            "modified": "2024-01-01T12:00:00Z",
            "species": "Mus musculus",
            "sex": "F",
            "age_days": 90.0,
            "approach": ["electrophysiological approach"],
            "technique": ["multi electrode extracellular electrophysiology recording technique"],
            "variable": ["ElectricalSeries"],
            "brain_regions": ["CA1"],
            "neurodata_types": ["ElectricalSeries", "Units"],
            "electrode_count": 32,
            "unit_count": 12,
            "duration_seconds": 3600.0,
            "score": 2.5,
            "highlights": {"path": ["sub-01/sub-01_<mark>ecephys</mark>.nwb"]},
        }
    ],
    "facets": {
        "species": [{"value": "Mus musculus", "count": 1}],
        "sex": [{"value": "F", "count": 1}],
    },
    "facets_exact": True,
}

DANDISET_PAGE_EXAMPLE: dict[str, Any] = {
    "count": 1,
    "count_exact": True,
    "next": None,
    "cursor": None,
    "results": [
        {
            "identifier": "000001",
            "dandiset_id": 1,
            "url": "https://api.example.org/api/dandisets/000001/",
            "name": "Hippocampus recordings",
            "description": "Tetrode recordings in freely moving rats.",
            "keywords": ["place cells"],
            "contributors": ["Doe, Jane"],
            "embargo_status": "OPEN",
            "owners": ["jdoe"],
            "created": "2024-01-01T12:00:00Z",
            "modified": "2024-01-02T12:00:00Z",
            "published": None,
            "draft_version": {
                "version": "draft",
                "name": "Hippocampus recordings",
                "status": "Valid",
                "created": "2024-01-01T12:00:00Z",
                "modified": "2024-01-02T12:00:00Z",
            },
            "most_recent_published_version": None,
            "asset_count": 2,
            "size": 2097152,
            "species": ["Rattus norvegicus"],
            "sex": ["M"],
            "approach": ["electrophysiological approach"],
            "technique": ["spike sorting technique"],
            "variable": ["ElectricalSeries", "Units"],
            "encoding_format": ["application/x-nwb"],
            "brain_regions": ["CA1"],
            "neurodata_types": ["ElectricalSeries", "Units"],
            "age_days_min": 60.0,
            "age_days_max": 60.0,
            "electrode_count_min": 32,
            "electrode_count_max": 32,
            "score": 1.2,
            "highlights": {"name": ["<mark>Hippocampus</mark> recordings"]},
        }
    ],
    "facets": {"species": [{"value": "Rattus norvegicus", "count": 1}]},
    "facets_exact": True,
}
