"""The shared backend suite: every test runs on PostgreSQL and on OpenSearch (`backend`)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from search.corpus import Corpus, add_nwb_asset
from sqlalchemy import delete, update
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import EmbargoStatus, OutboxEntity, OutboxOperation
from dandelion_common.db.models import Dandiset, SearchOutbox, Version, VersionAsset
from dandelion_common.db.session import Database
from dandelion_common.outbox import emit
from dandelion_search.backends import SearchBackend
from dandelion_search.backends.postgres import PostgresSearchBackend
from dandelion_search.errors import InvalidCursor
from dandelion_search.indexer import drain, drain_once, reindex
from dandelion_search.schemas import (
    Facet,
    IndexRow,
    Kind,
    Range,
    RangeField,
    SearchQuery,
    SearchResult,
    SortKey,
    Visibility,
)

ANONYMOUS = Visibility.anonymous()


async def find(
    backend: SearchBackend,
    kind: Kind = Kind.ASSETS,
    visibility: Visibility = ANONYMOUS,
    **fields: Any,
) -> SearchResult:
    return await backend.search(SearchQuery(kind=kind, **fields), visibility)


def paths(result: SearchResult) -> set[str]:
    return {hit.document["path"] for hit in result.hits}


def names(result: SearchResult) -> set[str]:
    return {hit.document["name"] for hit in result.hits}


def counts(result: SearchResult, facet: Facet) -> dict[str, int]:
    return {c.value: c.count for c in result.facets[facet]}


A1, A2, A3, A4 = (f"sub-0{i}/sub-0{i}_{k}.nwb" for i, k in
                  ((1, "ecephys"), (2, "ecephys"), (3, "icephys"), (4, "ophys")))  # fmt: skip


async def test_every_word_must_match(backend: SearchBackend, corpus: Corpus) -> None:
    both = await find(backend, Kind.DANDISETS, text="tetrode rats")
    one_missing = await find(backend, Kind.DANDISETS, text="tetrode zebrafish")
    assert names(both) == {"Buzsáki hippocampus recordings"}
    assert names(one_missing) == set()
    assert paths(await find(backend, text="sub 02 ecephys")) == {A2}


async def test_text_is_accent_and_case_insensitive(backend: SearchBackend, corpus: Corpus) -> None:
    for text in ("buzsaki", "BUZSÁKI", "Buzsáki györgy"):
        assert names(await find(backend, Kind.DANDISETS, text=text)) == {
            "Buzsáki hippocampus recordings"
        }, text


async def test_title_words_are_highlighted(backend: SearchBackend, corpus: Corpus) -> None:
    result = await find(backend, Kind.DANDISETS, text="hippocampus")
    assert result.hits[0].highlights["name"] == ["Buzsáki <mark>hippocampus</mark> recordings"]


FACET_CASES = [
    (Facet.SPECIES, {"Rattus norvegicus"}, {A1}),
    (Facet.SPECIES, {"Rattus norvegicus", "Mus musculus"}, {A1, A2, A3}),
    (Facet.SEX, {"F"}, {A2, A3}),
    (Facet.APPROACH, {"electrophysiological approach"}, {A1, A2, A3}),
    (Facet.TECHNIQUE, {"spike sorting technique"}, {A1}),
    (Facet.VARIABLE, {"Units"}, {A1}),
    (Facet.BRAIN_REGION, {"VISp"}, {A2}),
    (Facet.NEURODATA_TYPE, {"ElectricalSeries"}, {A1, A2}),
    (Facet.ENCODING_FORMAT, {"application/x-nwb"}, {A1, A2, A3}),
]


async def test_each_facet_filters_hits(backend: SearchBackend, corpus: Corpus) -> None:
    for facet, values, expected in FACET_CASES:
        result = await find(backend, facets={facet: frozenset(values)})
        assert (paths(result), result.total) == (expected, len(expected)), facet
    only_d2 = await find(backend, facets={Facet.DANDISET: frozenset({f"{corpus.d2.id:06}"})})
    assert paths(only_d2) == {A3}


async def test_facets_combine_or_within_and_across(backend: SearchBackend, corpus: Corpus) -> None:
    selected = {Facet.SPECIES: frozenset({"Mus musculus"}), Facet.SEX: frozenset({"F", "M"})}
    assert paths(await find(backend, facets=selected)) == {A2, A3}
    selected[Facet.BRAIN_REGION] = frozenset({"VISp"})
    assert paths(await find(backend, facets=selected)) == {A2}


async def test_facet_counts_ignore_their_own_selection(
    backend: SearchBackend, corpus: Corpus
) -> None:
    everything = await find(backend)
    assert counts(everything, Facet.SPECIES) == {"Mus musculus": 2, "Rattus norvegicus": 1}
    rats = await find(backend, facets={Facet.SPECIES: frozenset({"Rattus norvegicus"})})
    # The species facet still offers every species; the others shrink to the rat's asset.
    assert counts(rats, Facet.SPECIES) == {"Mus musculus": 2, "Rattus norvegicus": 1}
    assert counts(rats, Facet.SEX) == {"M": 1}
    assert counts(rats, Facet.BRAIN_REGION) == {"CA1": 1}
    # Ordered by count, then value.
    assert [c.value for c in everything.facets[Facet.SEX]] == ["F", "M"]


async def test_range_filters(backend: SearchBackend, corpus: Corpus) -> None:
    def ranged(field: RangeField, gte: float | None, lte: float | None) -> dict[str, Any]:
        return {"ranges": {field: Range(gte=gte, lte=lte)}}

    assert paths(await find(backend, **ranged(RangeField.AGE_DAYS, 50, 100))) == {A1, A2}
    assert paths(await find(backend, **ranged(RangeField.ELECTRODE_COUNT, 100, None))) == {A2}
    assert paths(await find(backend, **ranged(RangeField.SIZE, None, 1))) == set()
    assert paths(await find(backend, **ranged(RangeField.SIZE, 1, None))) == {A1, A2, A3}
    # A dandiset matches when the range of its assets overlaps the filter.
    wide = await find(backend, Kind.DANDISETS, **ranged(RangeField.ELECTRODE_COUNT, 300, 400))
    assert names(wide) == {"Buzsáki hippocampus recordings"}


@pytest.mark.parametrize(
    ("sort", "text"),
    [(SortKey.RELEVANCE, "nwb"), (SortKey.NAME, ""), (SortKey.SIZE, ""), (SortKey.MODIFIED, "")],
)
async def test_cursor_pages_have_no_gaps_or_duplicates(
    backend: SearchBackend,
    corpus: Corpus,
    session: AsyncSession,
    db: Database,
    sort: SortKey,
    text: str,
) -> None:
    draft = corpus.versions[corpus.d1.id]
    for i in range(9):
        await add_nwb_asset(session, draft, f"extra/file-{i % 3}-{i}.nwb", species="Danio rerio")
    await session.commit()
    await drain(db, backend)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = await find(backend, text=text, sort=sort, size=4, cursor=cursor)
        seen += [hit.id for hit in page.hits]
        if (cursor := page.next_cursor) is None:
            break
    assert len(seen) == len(set(seen)) == page.total == 12


async def test_a_garbled_cursor_is_refused(backend: SearchBackend, corpus: Corpus) -> None:
    with pytest.raises(InvalidCursor):
        await find(backend, sort=SortKey.NAME, cursor="not-a-cursor")


async def test_embargoed_content_only_for_owners_and_admins(
    backend: SearchBackend, corpus: Corpus
) -> None:
    viewers = {
        "anonymous": (ANONYMOUS, False),
        "stranger": (Visibility.owner_of({corpus.d1.id, corpus.d2.id}), False),
        "owner": (Visibility.owner_of({corpus.secret.id}), True),
        "admin": (Visibility.administrator(), True),
    }
    for who, (visibility, sees) in viewers.items():
        assets = await find(backend, Kind.ASSETS, visibility)
        dandisets = await find(backend, Kind.DANDISETS, visibility)
        by_name = await find(backend, Kind.DANDISETS, visibility, text="secret imaging")
        assert (A4 in paths(assets), assets.total) == (sees, 4 if sees else 3), who
        assert (dandisets.total, len(by_name.hits)) == (3 if sees else 2, int(sees)), who
        # Facet counts never reveal what the hits hide.
        assert counts(assets, Facet.SPECIES)["Mus musculus"] == (3 if sees else 2), who
        two_photon = counts(dandisets, Facet.NEURODATA_TYPE).get("TwoPhotonSeries", 0)
        assert two_photon == int(sees), who


async def test_patch_clamp_finds_voltage_clamp_content(
    backend: SearchBackend, corpus: Corpus
) -> None:
    assert paths(await find(backend, text="patch clamp")) == {A3}
    assert names(await find(backend, Kind.DANDISETS, text="patch clamp")) == {
        "Slice physiology in cortex"
    }
    technique = {Facet.TECHNIQUE: frozenset({"patch clamp technique"})}
    assert paths(await find(backend, facets=technique)) == {A3}


async def test_deletions_propagate(
    backend: SearchBackend, corpus: Corpus, session: AsyncSession, db: Database
) -> None:
    a1 = corpus.assets["a1"]
    await session.execute(delete(VersionAsset).where(VersionAsset.asset_id == a1.id))
    emit(session, OutboxEntity.ASSET, a1.id, OutboxOperation.DELETE)
    emit(session, OutboxEntity.VERSION, corpus.versions[corpus.d1.id].id)  # as the api does
    emit(session, OutboxEntity.DANDISET, corpus.d2.id, OutboxOperation.DELETE)
    await session.execute(delete(Dandiset).where(Dandiset.id == corpus.d2.id))
    await session.commit()
    await drain(db, backend)
    assert paths(await find(backend)) == {A2}
    assert names(await find(backend, Kind.DANDISETS)) == {"Buzsáki hippocampus recordings"}
    # The removed asset no longer counts in the dandiset's facets either.
    assert counts(await find(backend, Kind.DANDISETS), Facet.SPECIES) == {"Mus musculus": 1}


async def test_draining_twice_is_harmless(
    backend: SearchBackend, corpus: Corpus, session: AsyncSession, db: Database
) -> None:
    before = await find(backend)
    assert await drain(db, backend) == 0
    for asset in corpus.assets.values():  # the same changes, delivered again
        emit(session, OutboxEntity.ASSET, asset.id)
    await session.commit()
    assert await drain(db, backend) == 4
    assert await drain(db, backend) == 0
    again = await find(backend)
    assert (again.total, paths(again), again.facets) == (before.total, paths(before), before.facets)


async def test_a_committed_change_is_searchable_after_one_drain(
    backend: SearchBackend, corpus: Corpus, session: AsyncSession, db: Database
) -> None:
    draft = corpus.versions[corpus.d2.id]
    await session.execute(update(Version).where(Version.id == draft.id).values(name="Axolotl"))
    emit(session, OutboxEntity.VERSION, draft.id)
    await session.commit()
    assert await drain_once(db, backend) == 1
    assert names(await find(backend, Kind.DANDISETS, text="axolotl")) == {"Axolotl"}
    assert await session.get(SearchOutbox, 1) is None


async def test_an_embargo_change_hides_the_assets(
    backend: SearchBackend, corpus: Corpus, session: AsyncSession, db: Database
) -> None:
    await session.execute(
        update(Dandiset)
        .where(Dandiset.id == corpus.d1.id)
        .values(embargo_status=EmbargoStatus.EMBARGOED)
    )
    emit(session, OutboxEntity.DANDISET, corpus.d1.id)  # a dandiset-level change only
    await session.commit()
    await drain(db, backend)
    assert paths(await find(backend)) == {A3}
    assert paths(await find(backend, visibility=Visibility.owner_of({corpus.d1.id}))) == {
        A1, A2, A3
    }  # fmt: skip


class WritesDuringReindex:
    """A backend that runs a write (committed and drained) while the new index is loading,
    and another right after the swap: the moments a reindex could lose a change."""

    def __init__(self, backend: SearchBackend, write: Callable[[str], Awaitable[None]]) -> None:
        self.backend, self.write, self.loading = backend, write, True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    async def bulk_upsert(self, kind: Kind, rows: Any, *, target: str | None = None) -> None:
        if target is not None and self.loading:
            self.loading = False
            await self.write("during/load.nwb")
        await self.backend.bulk_upsert(kind, rows, target=target)

    async def finish_rebuild(self, kind: Kind, target: str) -> None:
        await self.backend.finish_rebuild(kind, target)
        await self.write("after/swap.nwb")


@pytest.mark.parametrize("kind", list(Kind))
async def test_reindex_under_concurrent_writes_loses_nothing(
    backend: SearchBackend,
    corpus: Corpus,
    session: AsyncSession,
    db: Database,
    kind: Kind,
) -> None:
    draft = corpus.versions[corpus.d2.id]

    async def write(path: str, *, drained: bool = True) -> None:
        await add_nwb_asset(session, draft, path, species="Danio rerio")
        await session.execute(update(Version).where(Version.id == draft.id).values(name=path))
        emit(session, OutboxEntity.VERSION, draft.id)
        await session.commit()
        if drained:
            await drain(db, backend)

    loaded: list[int] = []
    await write("before/reindex.nwb", drained=False)
    proxy = cast(SearchBackend, WritesDuringReindex(backend, write))
    await reindex(db, proxy, kind, progress=loaded.append)
    await write("after/reindex.nwb", drained=False)
    await drain(db, backend)

    assert loaded
    assets = await find(backend, size=50)
    new = {"before/reindex.nwb", "during/load.nwb", "after/swap.nwb", "after/reindex.nwb"}
    assert (new <= paths(assets), assets.total) == (True, 7)  # 3 visible + 4 new
    dandisets = await find(backend, Kind.DANDISETS)
    assert dandisets.total == 2  # the embargoed one stays hidden
    assert "after/reindex.nwb" in names(dandisets)
    assert counts(dandisets, Facet.SPECIES)["Danio rerio"] == 1


async def test_unknown_entity_ids_are_dropped(
    backend: SearchBackend, session: AsyncSession, db: Database
) -> None:
    emit(session, OutboxEntity.ASSET, uuid.uuid4())
    emit(session, OutboxEntity.VERSION, 999_999_999)
    emit(session, OutboxEntity.DANDISET, "not-a-number")
    await session.commit()
    assert await drain(db, backend) == 3
    assert (await find(backend)).total == 0


async def test_totals_above_the_cap_are_a_lower_bound(
    backend: SearchBackend, corpus: Corpus
) -> None:
    backend.total_cap = 2  # type: ignore[attr-defined]
    everything = await find(backend, size=1)
    assert (everything.total, everything.total_exact) == (2, False)
    # Facet counts stay exact: the sample would be the whole (small) table.
    assert everything.facets_exact
    assert counts(everything, Facet.SPECIES) == {"Mus musculus": 2, "Rattus norvegicus": 1}
    rats = await find(backend, facets={Facet.SPECIES: frozenset({"Rattus norvegicus"})})
    assert (rats.total, rats.total_exact) == (1, True)


SAMPLED = 3000


def _numbered(number: int) -> IndexRow:
    species = "Mus musculus" if number % 3 else "Rattus norvegicus"  # 2:1
    return IndexRow(
        id=f"numbered-{number:05d}",
        dandiset_id=1 + number % 7,
        embargoed=False,
        title=f"sub-{number}/recording.nwb",
        title_text=f"sub {number} recording nwb",
        body_text="numbered",
        sort_name=f"sub-{number}",
        modified=datetime(2026, 1, 1, tzinfo=UTC),
        facets={Facet.SPECIES: [species], Facet.DANDISET: [str(1 + number % 7)]},
        document={"path": f"sub-{number}/recording.nwb"},
    )


@pytest.fixture
async def numbered(backend: SearchBackend, session: AsyncSession) -> SearchBackend:
    """3,000 documents, a cap of 100 and samples of about 1,000 documents."""
    backend.total_cap, backend.sample_rows = 100, SAMPLED // 3  # type: ignore[attr-defined]
    for start in range(0, SAMPLED, 500):  # the drain's batch size
        rows = [_numbered(n) for n in range(start, start + 500)]
        await backend.bulk_upsert(Kind.ASSETS, rows)
    if isinstance(backend, PostgresSearchBackend):  # its sample size comes from statistics
        await session.execute(sql("ANALYZE search_assets"))
    return backend


async def test_broad_facet_counts_are_estimated_from_a_sample(numbered: SearchBackend) -> None:
    result = await find(numbered, text="numbered", size=5)

    assert (result.total, result.total_exact, result.facets_exact) == (100, False, False)
    species = counts(result, Facet.SPECIES)
    assert list(species) == ["Mus musculus", "Rattus norvegicus"]
    # About a third of the documents, scaled up: near the true 2,000 and 1,000.
    assert 1400 <= species["Mus musculus"] <= 2600
    assert 600 <= species["Rattus norvegicus"] <= 1400
    assert len(result.hits) == 5


async def test_selective_facet_counts_stay_exact(numbered: SearchBackend) -> None:
    result = await find(numbered, text="numbered 15")  # sub-15 only

    assert (result.total, result.total_exact, result.facets_exact) == (1, True, True)
    assert counts(result, Facet.SPECIES) == {"Rattus norvegicus": 1}


async def test_a_selected_facet_over_many_matches_is_estimated_alone(
    numbered: SearchBackend,
) -> None:
    # Dandiset 2 (numbers 1 mod 7): 429 documents, above the cap of 100; its own facet drops
    # the selection and so counts all 3,000 documents.
    two = frozenset({"2"})
    result = await find(numbered, text="numbered", facets={Facet.DANDISET: two})

    assert (result.total, result.total_exact, result.facets_exact) == (100, False, False)
    dandisets = counts(result, Facet.DANDISET)
    assert len(dandisets) == 7
    assert all(250 <= n <= 650 for n in dandisets.values())
