"""DANDI's search semantics as SQL over the archive's own tables, read live.

`?search=` is answered here rather than by the search index because DANDI's semantics are a
substring match over the whole metadata JSON of any version, seen the moment a change commits;
the index holds folded words of chosen fields and lags the outbox. Free-text words are matched
in `versions.search_text`, that JSON with accents folded (NFKD, then combining marks dropped,
since the `unaccent` extension is not installed) and lowercased, which PostgreSQL keeps
current as a generated column behind a trigram index; query terms are folded the same way.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    SQLColumnExpression,
    and_,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_api.dandisets.access import EMBARGOED
from dandelion_api.search.syntax import Bound, DateField, DateFilter, ParsedSearch
from dandelion_common.db.models import (
    Asset,
    AssetBlob,
    BlobExtract,
    Dandiset,
    DandisetOwner,
    User,
    Version,
    VersionAsset,
)
from dandelion_common.db.models.dandisets import MARK_RANGES, VERSION_SEARCH_TEXT

_LIKE_ESCAPE = "\\"
# Trusted constants only: these jsonpaths are written into the SQL.
SUMMARY_PATHS = {
    "species": "$.assetsSummary.species[*].name",
    "approach": "$.assetsSummary.approach[*].name",
    "technique": "$.assetsSummary.measurementTechnique[*].name",
}


def fold_text(value: str) -> str:
    """What `versions.search_text` does to the stored text, done to a query term."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not any(lo <= c <= hi for lo, hi in MARK_RANGES))


def like_escape(value: str) -> str:
    for char in (_LIKE_ESCAPE, "%", "_"):
        value = value.replace(char, _LIKE_ESCAPE + char)
    return value


def _contains(column: ColumnElement[str], value: str) -> ColumnElement[bool]:
    return column.ilike(f"%{like_escape(value)}%", escape=_LIKE_ESCAPE)


def _in_search_text(term: str) -> ColumnElement[bool]:
    """`search_text ILIKE '%term%'`, as LIKE: the text is lowercased by the same `lower()`
    ILIKE applies to both sides (done here in SQL too, so no character folds differently)."""
    pattern = func.lower(f"%{like_escape(fold_text(term))}%")
    return VERSION_SEARCH_TEXT.like(pattern, escape=_LIKE_ESCAPE)


def _text_match(terms: Sequence[str]) -> ColumnElement[bool]:
    """One version of the dandiset holds every term (as DANDI: all on the same row)."""
    return exists().where(Version.dandiset_id == Dandiset.id, *(_in_search_text(t) for t in terms))


def _summary_match(parsed: ParsedSearch) -> ColumnElement[bool]:
    """One version's assetsSummary satisfies every species/approach/technique clause."""
    clauses = [
        *(_summary_clause("species", v) for v in parsed.species),
        *(_summary_clause("approach", v) for v in parsed.approaches),
        *(_summary_clause("technique", v) for v in parsed.techniques),
    ]
    return exists().where(Version.dandiset_id == Dandiset.id, *clauses)


def _summary_clause(operator: str, value: str) -> ColumnElement[bool]:
    path: ColumnElement[Any] = literal_column(f"'{SUMMARY_PATHS[operator]}'::jsonpath")
    names = func.jsonb_path_query(Version.metadata_, path).table_valued("name").render_derived()
    name = names.c.name.op("#>>")(literal_column("'{}'"))
    return select(literal(1)).select_from(names).where(_contains(name, value)).exists()


def _file_type_match(prefixes: Sequence[str]) -> ColumnElement[bool]:
    """One blob asset of any version starts with every MIME prefix (DANDI chains them)."""
    encoding = Asset.metadata_["encodingFormat"].astext
    return exists().where(
        VersionAsset.asset_id == Asset.id,
        Version.id == VersionAsset.version_id,
        Version.dandiset_id == Dandiset.id,
        Asset.blob_id.is_not(None),
        *(encoding.ilike(f"{like_escape(p)}%", escape=_LIKE_ESCAPE) for p in prefixes),
    )


def _owner_match(value: str) -> ColumnElement[bool]:
    """An owner whose login, email, first, last or "first last" name is `value` (any case)."""
    wanted = func.lower(value)
    full_name = User.first_name + " " + User.last_name
    names = (User.username, User.email, User.first_name, User.last_name, full_name)
    return exists().where(
        DandisetOwner.dandiset_id == Dandiset.id,
        User.id == DandisetOwner.user_id,
        or_(*(func.lower(n) == wanted for n in names)),
    )


def _latest_published_created() -> ColumnElement[datetime]:
    return (
        select(Version.created)
        .where(Version.dandiset_id == Dandiset.id, Version.version != "draft")
        .order_by(Version.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _date_match(date_filter: DateFilter, current: FromClause) -> ColumnElement[bool]:
    column: SQLColumnExpression[Any] = {
        DateField.CREATED: Dandiset.created,
        DateField.MODIFIED: current.c.modified,  # the most recently created version's
        DateField.PUBLISHED: _latest_published_created(),
    }[date_filter.field]
    if date_filter.bound is Bound.BEFORE:
        return column < date_filter.at
    return column >= date_filter.at


def search_conditions(parsed: ParsedSearch, current: FromClause) -> list[ColumnElement[bool]]:
    """Every condition of a parsed `?search=` on `select(Dandiset)` joined to `current`."""
    conditions = [_date_match(d, current) for d in parsed.dates]
    if parsed.terms:
        conditions.append(_text_match(parsed.terms))
    if parsed.species or parsed.approaches or parsed.techniques:
        conditions.append(_summary_match(parsed))
    if parsed.file_types:
        conditions.append(_file_type_match(parsed.file_types))
    conditions += [_owner_match(owner) for owner in parsed.owners]
    return conditions


# --- the faceted search and its autocomplete helpers (DANDI's `asset_search` view) ------------


@dataclass(frozen=True)
class AssetFacets:
    """`/api/dandisets/search/` filters: values within a facet OR, facets AND, per asset."""

    file_type: tuple[str, ...] = ()
    file_size_min: int | None = None
    file_size_max: int | None = None
    genotype: tuple[str, ...] = ()
    species: tuple[str, ...] = ()
    measurement_technique: tuple[str, ...] = ()


def asset_species() -> ColumnElement[str]:
    """The species of an asset as DANDI denormalises it ("" when unknown)."""
    stated = Asset.metadata_[("wasAttributedTo", 0, "species", "name")].astext
    return func.coalesce(stated, BlobExtract.species, "")


def asset_genotype() -> ColumnElement[str]:
    genotype: ColumnElement[str] = Asset.metadata_[("wasAttributedTo", 0, "genotype")].astext
    return genotype


def _facet_conditions(facets: AssetFacets) -> dict[str, ColumnElement[bool]]:
    """The used facets, each as one condition on an asset row (DANDI skips a 0 size bound)."""
    used: dict[str, ColumnElement[bool]] = {}
    encoding = Asset.metadata_["encodingFormat"].astext
    if facets.file_type:
        used["file_type"] = or_(*(encoding.ilike(f"{like_escape(t)}%") for t in facets.file_type))
    sizes = []
    if facets.file_size_max:
        sizes.append(_blob_size() <= facets.file_size_max)
    if facets.file_size_min:
        sizes.append(_blob_size() >= facets.file_size_min)
    if sizes:
        used["file_size"] = and_(*sizes)
    if facets.genotype:
        used["genotype"] = asset_genotype().in_(facets.genotype)
    if facets.species:
        used["species"] = asset_species().in_(facets.species)
    if facets.measurement_technique:
        techniques = Asset.metadata_["measurementTechnique"]
        used["measurement_technique"] = or_(
            *(techniques.contains([{"name": t}]) for t in facets.measurement_technique)
        )
    return used


def _blob_size() -> ColumnElement[int]:
    return select(AssetBlob.size).where(AssetBlob.id == Asset.blob_id).scalar_subquery()


def _asset_rows() -> Select[int, uuid.UUID]:
    """(dandiset, blob asset) pairs over every version: DANDI's `asset_search` rows."""
    return (
        select(Version.dandiset_id, Asset.id.label("asset_id"))
        .join(VersionAsset, VersionAsset.version_id == Version.id)
        .join(Asset, Asset.id == VersionAsset.asset_id)
        .outerjoin(BlobExtract, BlobExtract.blob_id == Asset.blob_id)
        .where(Asset.blob_id.is_not(None))
    )


def facet_condition(facets: AssetFacets) -> ColumnElement[bool]:
    """The dandiset holds one blob asset that passes every used facet."""
    rows = _asset_rows().where(Version.dandiset_id == Dandiset.id)
    return rows.where(*_facet_conditions(facets).values()).exists()


async def asset_counts(
    session: AsyncSession, facets: AssetFacets, dandiset_ids: Sequence[int]
) -> dict[int, dict[str, int]]:
    """Per dandiset, how many of its assets pass each used facet on its own."""
    used = _facet_conditions(facets)
    if not dandiset_ids or not used:
        return {}
    rows = _asset_rows().where(Version.dandiset_id.in_(dandiset_ids)).distinct().subquery()
    counts = [
        func.count(Asset.id).filter(condition).label(name) for name, condition in used.items()
    ]
    statement = (
        select(rows.c.dandiset_id, *counts)
        .join(Asset, Asset.id == rows.c.asset_id)
        .outerjoin(BlobExtract, BlobExtract.blob_id == Asset.blob_id)
        .group_by(rows.c.dandiset_id)
    )
    result = await session.execute(statement)
    return {row[0]: {name: int(n) for name, n in zip(used, row[1:], strict=True)} for row in result}


def visible_assets(owned: Sequence[int] | None) -> ColumnElement[bool]:
    """Open dandisets, or those the caller owns (`None`: an admin sees all)."""
    if owned is None:
        return true()
    status = select(Dandiset.embargo_status).where(Dandiset.id == Version.dandiset_id)
    is_open = status.scalar_subquery().not_in(EMBARGOED)
    return or_(is_open, Version.dandiset_id.in_(owned) if owned else false())


async def species(
    session: AsyncSession, owned: Sequence[int] | None, *, contains: str | None
) -> list[str]:
    """Distinct non-empty species of visible assets, in order (DANDI's autocomplete)."""
    value = asset_species()
    statement = _asset_rows().where(visible_assets(owned), value != "")
    if contains:
        statement = statement.where(_contains(value, contains))
    names = statement.with_only_columns(value).distinct().order_by(value)
    return list(await session.scalars(names))


async def genotypes(
    session: AsyncSession, owned: Sequence[int] | None, *, contains: str | None
) -> list[str]:
    """Up to 10 distinct non-empty genotypes of visible assets, in order."""
    value = asset_genotype()
    statement = _asset_rows().where(visible_assets(owned), value != "")
    if contains:
        statement = statement.where(_contains(value, contains))
    names = statement.with_only_columns(value).distinct().order_by(value).limit(10)
    return list(await session.scalars(names))
