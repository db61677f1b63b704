"""The search core's pure parts: folding, the NWB hierarchy, cursors, query bodies, wiring."""

from __future__ import annotations

import importlib.resources

import pytest
from pydantic import ValidationError
from ruamel.yaml import YAML

from dandelion_common.db.session import Database
from dandelion_common.settings import OpenSearchSettings, Settings
from dandelion_search.backends import make_backend
from dandelion_search.backends.base import decode_cursor, encode_cursor
from dandelion_search.backends.opensearch import OpenSearchBackend, search_body
from dandelion_search.backends.postgres import PostgresSearchBackend
from dandelion_search.errors import InvalidCursor
from dandelion_search.folding import fold, words
from dandelion_search.hierarchy import PARENT, lineage, techniques
from dandelion_search.schemas import Facet, Kind, Range, SearchQuery, Visibility


def test_folding_drops_accents_case_and_punctuation() -> None:
    assert words("Buzsáki, GYÖRGY") == ["buzsaki", "gyorgy"]
    assert fold(["sub-01/sub-01_ses-2.nwb", None, "Straße"]) == "sub 01 sub 01 ses 2 nwb strasse"


def core_parents() -> dict[str, str]:
    """Child → parent of every core NWB type, read from the schema pynwb ships (parsing the
    YAML costs milliseconds; importing pynwb costs seconds)."""
    loader, schema = YAML(typ="safe"), importlib.resources.files("pynwb") / "nwb-schema" / "core"
    parents: dict[str, str] = {}
    for spec in schema.iterdir():
        if spec.name.endswith(".yaml") and spec.name != "nwb.namespace.yaml":
            for group in loader.load(spec.read_text()).get("groups", []):
                if "neurodata_type_def" in group and "neurodata_type_inc" in group:
                    parents[group["neurodata_type_def"]] = group["neurodata_type_inc"]
    return parents


def test_the_core_parent_map_agrees_with_pynwb() -> None:
    parents = core_parents()
    assert parents["VoltageClampSeries"] == "PatchClampSeries"  # the schema was read
    assert {child: parents[child] for child in PARENT} == PARENT


def test_clamp_series_are_patch_clamp_techniques() -> None:
    assert lineage("IZeroClampSeries") == [
        "IZeroClampSeries", "CurrentClampSeries", "PatchClampSeries"
    ]  # fmt: skip
    assert techniques(["VoltageClampSeries"]) == [
        "patch clamp technique", "voltage clamp technique"
    ]  # fmt: skip
    # An extension type brings its ancestors from the file's own specification.
    ancestry = {"MyClampSeries": ["VoltageClampSeries"]}
    assert "patch clamp technique" in techniques(["MyClampSeries"], ancestry)
    assert techniques(["ndx-pose.PoseEstimation"]) == []


def test_cursors_round_trip_and_garbage_is_refused() -> None:
    cursor = encode_cursor([1.5, "000001"])
    assert decode_cursor(cursor, 2) == [1.5, "000001"]
    for bad in ("!!!", encode_cursor([1]), encode_cursor({"a": 1})):  # type: ignore[arg-type]
        with pytest.raises(InvalidCursor):
            decode_cursor(bad, 2)


def test_a_range_must_be_ordered() -> None:
    with pytest.raises(ValidationError):
        Range(gte=10, lte=1)


def test_opensearch_body_filters_facets_after_aggregating() -> None:
    query = SearchQuery(
        kind=Kind.ASSETS,
        text="Buzsáki",
        facets={Facet.SPECIES: frozenset({"Mus musculus"}), Facet.SEX: frozenset({"F"})},
    )
    body = search_body(query, Visibility.owner_of({7}))
    assert body["query"]["bool"]["must"][0]["multi_match"]["query"] == "buzsaki"
    assert body["query"]["bool"]["filter"][0]["bool"]["should"] == [
        {"term": {"embargoed": False}},
        {"terms": {"dandiset_id": [7]}},
    ]
    assert body["post_filter"]["bool"]["filter"] == [
        {"terms": {"species": ["Mus musculus"]}},
        {"terms": {"sex": ["F"]}},
    ]
    # Each facet's aggregation applies the other facets' selections, not its own; the
    # facets without a selection share one aggregation with every selection.
    aggs = body["aggs"]
    assert aggs["without_species"]["filter"]["bool"]["filter"] == [{"terms": {"sex": ["F"]}}]
    assert list(aggs["without_species"]["aggs"]) == ["species"]
    assert len(aggs["all"]["filter"]["bool"]["filter"]) == 2
    assert "brain_region" in aggs["all"]["aggs"]
    assert aggs["without_sex"]["filter"]["bool"]["filter"] == [
        {"terms": {"species": ["Mus musculus"]}}
    ]


async def test_make_backend_prefers_opensearch_when_configured(
    settings: Settings, db: Database
) -> None:
    assert isinstance(make_backend(settings.model_copy(), db), PostgresSearchBackend)
    configured = settings.model_copy(
        update={"opensearch": OpenSearchSettings(url="http://127.0.0.1:9")}
    )
    backend = make_backend(configured, db)
    assert isinstance(backend, OpenSearchBackend)
    await backend.close()


def test_the_worker_drains_every_second() -> None:
    from dandelion_search import worker

    assert "drain_outbox" in {f.name for f in worker.FUNCTIONS}
    crons = [make(Settings()) for make in worker.CRON_JOBS]
    assert [c.name if c else None for c in crons] == ["drain_outbox_tick"]
