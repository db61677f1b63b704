"""Search use cases: DANDI's faceted dandiset search and its autocomplete helpers."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_api.dandisets import service as dandisets
from dandelion_api.dandisets.repository import ListFilters
from dandelion_api.search import repository
from dandelion_api.search.repository import AssetFacets
from dandelion_api.search.schemas import DandisetSearchResult
from dandelion_common.db.models import DandisetOwner, User
from dandelion_common.errors import FieldErrors

FILE_TYPES = ("application/x-nwb", "image/", "text/", "video/")
# DANDI's fixed choices for `measurement_technique`.
MEASUREMENT_TECHNIQUES = (
    "signal filtering technique",
    "spike sorting technique",
    "multi electrode extracellular electrophysiology recording technique",
    "voltage clamp technique",
    "surgical technique",
    "behavioral technique",
    "current clamp technique",
    "fourier analysis technique",
    "two-photon microscopy technique",
    "patch clamp technique",
    "analytical technique",
)


def _check(facets: AssetFacets) -> None:
    """DRF's errors for bad choices and an inverted size range."""
    errors: dict[str, list[str]] = {}
    for name, values, choices in (
        ("file_type", facets.file_type, FILE_TYPES),
        ("measurement_technique", facets.measurement_technique, MEASUREMENT_TECHNIQUES),
    ):
        bad = [f'"{v}" is not a valid choice.' for v in values if v not in choices]
        if bad:
            errors[name] = bad
    if errors:
        raise FieldErrors(errors)
    low, high = facets.file_size_min, facets.file_size_max
    if low is not None and high is not None and high < low:
        raise FieldErrors(
            {"non_field_errors": ["file_size_max must be greater than file_size_min"]}
        )


async def search_dandisets(
    session: AsyncSession,
    *,
    filters: ListFilters,
    facets: AssetFacets,
    user: User | None,
    search: str | None,
    offset: int,
    limit: int,
) -> tuple[list[DandisetSearchResult], int]:
    """The dandiset list restricted to holders of an asset passing every facet, with counts."""
    _check(facets)
    filters = replace(filters, asset_facets=facets)
    items, count = await dandisets.list_dandisets(
        session, filters=filters, user=user, offset=offset, limit=limit, search=search
    )
    ids = [int(item.identifier) for item in items]
    counts = await repository.asset_counts(session, facets, ids)
    results = [
        DandisetSearchResult(**item.model_dump(), asset_counts=counts.get(i, {}))
        for item, i in zip(items, ids, strict=True)
    ]
    return results, count


async def _owned(session: AsyncSession, user: User | None) -> list[int] | None:
    """The embargoed dandisets the caller may see (`None`: an admin sees them all)."""
    if user is None:
        return []
    if user.is_admin:
        return None
    query = select(DandisetOwner.dandiset_id).where(DandisetOwner.user_id == user.id)
    return list(await session.scalars(query))


async def species(session: AsyncSession, *, user: User | None, contains: str | None) -> list[str]:
    return await repository.species(session, await _owned(session, user), contains=contains)


async def genotypes(session: AsyncSession, *, user: User | None, contains: str | None) -> list[str]:
    return await repository.genotypes(session, await _owned(session, user), contains=contains)
