"""Search documents built from the database (the source of truth) for given ids.

A dandiset document describes its draft and most recent published version together (text
and facets of either match); an asset document describes one asset row, shared by every
version that holds it. Each builder returns the rows of entities that exist and are indexable;
an id it does not return is gone and must be deleted from the index.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import EmbargoStatus
from dandelion_common.db.models import (
    Asset,
    AssetBlob,
    BlobExtract,
    Dandiset,
    DandisetOwner,
    User,
    Version,
    VersionAsset,
    ZarrSnapshot,
)
from dandelion_search.folding import fold
from dandelion_search.hierarchy import techniques
from dandelion_search.schemas import Facet, IndexRow


def identifier(dandiset_id: int) -> str:
    return f"{dandiset_id:06}"


def _names(items: Any, key: str = "name") -> list[str]:
    """The `key` of each dict in a metadata list (DANDI's `[{name: ...}]` shape)."""
    if not isinstance(items, list):
        return []
    return [str(i[key]) for i in items if isinstance(i, dict) and i.get(key)]


def _distinct(*lists: Iterable[str | None]) -> list[str]:
    return sorted({v for values in lists for v in values if v})


# --- dandisets -----------------------------------------------------------------------------


class VersionSummary(BaseModel):
    version: str
    name: str
    status: str
    created: datetime
    modified: datetime


class DandisetDocument(BaseModel):
    identifier: str
    dandiset_id: int
    name: str
    description: str
    keywords: list[str]
    contributors: list[str]
    embargo_status: str
    owners: list[str]
    created: datetime
    modified: datetime
    published: datetime | None
    draft_version: VersionSummary | None
    most_recent_published_version: VersionSummary | None
    asset_count: int
    size: int
    species: list[str]
    sex: list[str]
    approach: list[str]
    technique: list[str]
    variable: list[str]
    encoding_format: list[str]
    brain_regions: list[str]
    neurodata_types: list[str]
    age_days_min: float | None
    age_days_max: float | None
    electrode_count_min: int | None
    electrode_count_max: int | None


# One row per (dandiset, facet, value) over the assets of the chosen versions: one pass over
# those assets' extracts. The JSON paths are constants in lax mode (no per-row regex, and a
# malformed value yields nothing instead of an error).
_ASSET_FACETS = text("""
SELECT v.dandiset_id, f.facet, array_agg(DISTINCT f.value)
FROM version_assets va
JOIN versions v ON v.id = va.version_id
JOIN assets a ON a.id = va.asset_id
LEFT JOIN blob_extracts e ON e.blob_id = a.blob_id
CROSS JOIN LATERAL (
    SELECT 'encoding_format', a.metadata ->> 'encodingFormat'
    UNION ALL SELECT 'species', e.species
    UNION ALL SELECT 'sex', e.sex
    UNION ALL SELECT 'brain_region', unnest(e.brain_locations)
    UNION ALL SELECT 'neurodata_type', unnest(e.neurodata_types)
    UNION ALL SELECT 'approach', jsonb_path_query(e.metadata, '$.approach[*].name') #>> '{}'
    UNION ALL SELECT 'technique',
        jsonb_path_query(e.metadata, '$.measurementTechnique[*].name') #>> '{}'
    UNION ALL SELECT 'ancestor',
        jsonb_path_query(e.facts, '$.neurodata_type_ancestors.*[*]') #>> '{}'
) AS f(facet, value)
WHERE va.version_id = ANY(:version_ids) AND f.value IS NOT NULL
GROUP BY v.dandiset_id, f.facet
""")

_ASSET_RANGES = text("""
SELECT v.dandiset_id, min(e.age_days), max(e.age_days),
       min(e.electrode_count), max(e.electrode_count)
FROM version_assets va
JOIN versions v ON v.id = va.version_id
JOIN assets a ON a.id = va.asset_id
JOIN blob_extracts e ON e.blob_id = a.blob_id
WHERE va.version_id = ANY(:version_ids)
GROUP BY v.dandiset_id
""")


async def _versions(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[Version]]:
    """Each dandiset's draft and most recent published version (the latter first)."""
    latest = (
        select(Version)
        .where(Version.dandiset_id.in_(ids), Version.version != "draft")
        .ext(distinct_on(Version.dandiset_id))
        .order_by(Version.dandiset_id, Version.id.desc())
    )
    draft = select(Version).where(Version.dandiset_id.in_(ids), Version.version == "draft")
    found: dict[int, list[Version]] = defaultdict(list)
    for query in (latest, draft):
        for version in await session.scalars(query):
            found[version.dandiset_id].append(version)
    return found


async def _owners(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[str]]:
    rows = await session.execute(
        select(DandisetOwner.dandiset_id, User.username)
        .join(User, User.id == DandisetOwner.user_id)
        .where(DandisetOwner.dandiset_id.in_(ids))
        .order_by(User.username)
    )
    owners: dict[int, list[str]] = defaultdict(list)
    for dandiset_id, username in rows:
        owners[dandiset_id].append(username)
    return owners


async def _asset_facets(
    session: AsyncSession, version_ids: list[int]
) -> tuple[dict[int, dict[str, list[str]]], dict[int, tuple[Any, ...]]]:
    facets: dict[int, dict[str, list[str]]] = defaultdict(dict)
    for dandiset_id, facet, values in await session.execute(
        _ASSET_FACETS, {"version_ids": version_ids}
    ):
        facets[dandiset_id][facet] = values
    ranges = {
        row[0]: tuple(row[1:])
        for row in await session.execute(_ASSET_RANGES, {"version_ids": version_ids})
    }
    return facets, ranges


def _summary(version: Version | None) -> VersionSummary | None:
    if version is None:
        return None
    return VersionSummary(
        version=version.version,
        name=version.name,
        status=version.status.value,
        created=version.created,
        modified=version.modified,
    )


def _dandiset_document(
    dandiset: Dandiset,
    versions: list[Version],
    owners: list[str],
    facets: dict[str, list[str]],
    ranges: tuple[Any, ...],
) -> DandisetDocument:
    draft = next((v for v in versions if v.version == "draft"), None)
    latest = next((v for v in versions if v.version != "draft"), None)
    main = draft or latest
    assert main is not None  # callers skip dandisets without versions
    meta = main.metadata_
    summaries = [v.metadata_.get("assetsSummary") or {} for v in versions]
    types = facets.get("neurodata_type", [])
    age_min, age_max, electrodes_min, electrodes_max = ranges or (None,) * 4
    return DandisetDocument(
        identifier=identifier(dandiset.id),
        dandiset_id=dandiset.id,
        name=main.name,
        description=str(meta.get("description") or ""),
        keywords=[str(k) for k in meta.get("keywords") or []],
        contributors=_names(meta.get("contributor")),
        embargo_status=dandiset.embargo_status.value,
        owners=owners,
        created=dandiset.created,
        modified=max(v.modified for v in versions),
        published=latest.created if latest else None,
        draft_version=_summary(draft),
        most_recent_published_version=_summary(latest),
        asset_count=main.asset_count,
        size=main.size,
        species=_distinct(
            facets.get("species", []), *(_names(s.get("species")) for s in summaries)
        ),
        sex=_distinct(facets.get("sex", [])),
        approach=_distinct(
            facets.get("approach", []), *(_names(s.get("approach")) for s in summaries)
        ),
        technique=_distinct(
            facets.get("technique", []),
            techniques([*types, *facets.get("ancestor", [])]),
            *(_names(s.get("measurementTechnique")) for s in summaries),
        ),
        variable=_distinct(types, *(_names(s.get("variableMeasured"), "value") for s in summaries)),
        encoding_format=_distinct(facets.get("encoding_format", [])),
        brain_regions=_distinct(facets.get("brain_region", [])),
        neurodata_types=_distinct(types),
        age_days_min=age_min,
        age_days_max=age_max,
        electrode_count_min=electrodes_min,
        electrode_count_max=electrodes_max,
    )


def dandiset_row(doc: DandisetDocument) -> IndexRow:
    facets = {
        Facet.SPECIES: doc.species,
        Facet.SEX: doc.sex,
        Facet.APPROACH: doc.approach,
        Facet.TECHNIQUE: doc.technique,
        Facet.VARIABLE: doc.variable,
        Facet.BRAIN_REGION: doc.brain_regions,
        Facet.NEURODATA_TYPE: doc.neurodata_types,
        Facet.DANDISET: [doc.identifier],
        Facet.ENCODING_FORMAT: doc.encoding_format,
    }
    body = [doc.identifier, doc.description, *doc.keywords, *doc.contributors]
    return IndexRow(
        id=doc.identifier,
        dandiset_id=doc.dandiset_id,
        embargoed=doc.embargo_status != EmbargoStatus.OPEN.value,
        title=doc.name,
        description=doc.description,
        title_text=fold([doc.name]),
        body_text=fold([*body, *(v for values in facets.values() for v in values)]),
        sort_name=fold([doc.name]),
        size=doc.size,
        modified=doc.modified,
        facets=facets,
        ranges={
            "age_days_min": doc.age_days_min,
            "age_days_max": doc.age_days_max,
            "electrode_count_min": doc.electrode_count_min,
            "electrode_count_max": doc.electrode_count_max,
        },
        document=doc.model_dump(mode="json"),
    )


async def dandiset_rows(session: AsyncSession, ids: Sequence[int]) -> list[IndexRow]:
    """The documents of the dandisets among `ids` that exist (and have a version)."""
    dandisets = list(await session.scalars(select(Dandiset).where(Dandiset.id.in_(ids))))
    versions = await _versions(session, ids)
    owners = await _owners(session, ids)
    version_ids = [v.id for found in versions.values() for v in found]
    facets, ranges = await _asset_facets(session, version_ids)
    return [
        dandiset_row(
            _dandiset_document(d, versions[d.id], owners[d.id], facets[d.id], ranges.get(d.id, ()))
        )
        for d in dandisets
        if versions.get(d.id)
    ]


# --- assets --------------------------------------------------------------------------------


class AssetDocument(BaseModel):
    asset_id: str
    path: str
    dandiset_id: str
    dandiset_name: str
    versions: list[str]
    embargoed: bool
    size: int
    encoding_format: str | None
    modified: datetime
    species: str | None
    sex: str | None
    age_days: float | None
    approach: list[str]
    technique: list[str]
    variable: list[str]
    brain_regions: list[str]
    neurodata_types: list[str]
    electrode_count: int | None
    unit_count: int | None
    duration_seconds: float | None


class _Placement(BaseModel):
    dandiset_id: int
    dandiset_name: str
    embargoed: bool
    versions: list[str]


async def _placements(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[str, _Placement]:
    """Where each asset lives: its dandiset, that dandiset's access, and its versions."""
    rows = await session.execute(
        select(VersionAsset.asset_id, Version.version, Version.name, Dandiset)
        .join(Version, Version.id == VersionAsset.version_id)
        .join(Dandiset, Dandiset.id == Version.dandiset_id)
        .where(VersionAsset.asset_id.in_(ids))
        .order_by(VersionAsset.asset_id, Version.id)
    )
    found: dict[str, _Placement] = {}
    for asset_id, version, name, dandiset in rows:
        place = found.setdefault(
            str(asset_id),
            _Placement(
                dandiset_id=dandiset.id,
                dandiset_name=name,
                embargoed=dandiset.embargo_status is not EmbargoStatus.OPEN,
                versions=[],
            ),
        )
        place.versions.append(version)
        place.dandiset_name = name  # the most recent version's name wins
    return found


def _asset_document(
    asset: Asset, size: int, extract: BlobExtract | None, place: _Placement
) -> AssetDocument:
    meta = asset.metadata_
    nwb = extract.metadata_ if extract is not None else {}
    attributed = (nwb.get("wasAttributedTo") or meta.get("wasAttributedTo") or [{}])[0]
    types = extract.neurodata_types if extract is not None else []
    ancestors = (extract.facts if extract is not None else {}).get("neurodata_type_ancestors", {})
    return AssetDocument(
        asset_id=str(asset.id),
        path=asset.path,
        dandiset_id=identifier(place.dandiset_id),
        dandiset_name=place.dandiset_name,
        versions=place.versions,
        embargoed=place.embargoed,
        size=size,
        encoding_format=meta.get("encodingFormat"),
        modified=asset.modified,
        species=(extract.species if extract else None) or _species_name(attributed),
        sex=extract.sex if extract else None,
        age_days=extract.age_days if extract else None,
        approach=_distinct(_names(nwb.get("approach")), _names(meta.get("approach"))),
        technique=_distinct(
            _names(nwb.get("measurementTechnique")),
            _names(meta.get("measurementTechnique")),
            techniques(types, ancestors),
        ),
        variable=_distinct(
            _names(nwb.get("variableMeasured"), "value"),
            _names(meta.get("variableMeasured"), "value"),
        ),
        brain_regions=extract.brain_locations if extract else [],
        neurodata_types=types,
        electrode_count=extract.electrode_count if extract else None,
        unit_count=extract.unit_count if extract else None,
        duration_seconds=extract.duration_seconds if extract else None,
    )


def _species_name(attributed: Any) -> str | None:
    species = attributed.get("species") if isinstance(attributed, dict) else None
    return str(species["name"]) if isinstance(species, dict) and species.get("name") else None


def _one(value: Any) -> list[str]:
    return [str(value)] if value else []


def asset_row(doc: AssetDocument) -> IndexRow:
    facets = {
        Facet.SPECIES: _one(doc.species),
        Facet.SEX: _one(doc.sex),
        Facet.APPROACH: doc.approach,
        Facet.TECHNIQUE: doc.technique,
        Facet.VARIABLE: doc.variable,
        Facet.BRAIN_REGION: doc.brain_regions,
        Facet.NEURODATA_TYPE: doc.neurodata_types,
        Facet.DANDISET: [doc.dandiset_id],
        Facet.ENCODING_FORMAT: _one(doc.encoding_format),
    }
    body = [doc.dandiset_id, doc.dandiset_name]
    return IndexRow(
        id=doc.asset_id,
        dandiset_id=int(doc.dandiset_id),
        embargoed=doc.embargoed,
        title=doc.path,
        title_text=fold([doc.path]),
        body_text=fold([*body, *(v for values in facets.values() for v in values)]),
        sort_name=doc.path,
        size=doc.size,
        modified=doc.modified,
        facets=facets,
        ranges={
            "age_days_min": doc.age_days,
            "age_days_max": doc.age_days,
            "electrode_count_min": doc.electrode_count,
            "electrode_count_max": doc.electrode_count,
        },
        document=doc.model_dump(mode="json"),
    )


async def asset_rows(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[IndexRow]:
    """The documents of the assets among `ids` that some version still holds."""
    places = await _placements(session, ids)
    # A zarr asset's size is its snapshot's (0 before the first ingest).
    size = func.coalesce(AssetBlob.size, ZarrSnapshot.size, 0)
    rows = await session.execute(
        select(Asset, size, BlobExtract)
        .outerjoin(AssetBlob, AssetBlob.id == Asset.blob_id)
        .outerjoin(ZarrSnapshot, ZarrSnapshot.id == Asset.zarr_snapshot_id)
        .outerjoin(BlobExtract, BlobExtract.blob_id == Asset.blob_id)
        .where(Asset.id.in_(ids))
    )
    return [
        asset_row(_asset_document(asset, int(size), extract, places[str(asset.id)]))
        for asset, size, extract in rows
        if str(asset.id) in places
    ]
