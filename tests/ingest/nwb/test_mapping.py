"""asset_metadata: the BareAsset fragment dandi-cli's nwb2asset would make (validated by
dandischema's Asset model), modalities through the NWB type hierarchy for extension types."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hdmf.build import BuildManager  # type: ignore[import-untyped]  # no stubs
from nwbfiles import DOI_URL, SESSION_START, write_nwb
from pynwb import NWBHDF5IO, NWBFile, get_type_map
from pynwb.spec import NWBGroupSpec, NWBNamespaceBuilder

from dandelion_common.settings import Settings
from dandelion_ingest.nwb.extract import Extraction, SubjectFacts, extract_file
from dandelion_ingest.nwb.mapping import asset_metadata

ECEPHYS = "electrophysiological approach"
OPHYS = "microscopy approach; cell population imaging"


def extract_path(path: Path) -> Extraction:
    with path.open("rb") as f:
        return extract_file(f)


def names(items: list[dict[str, Any]], key: str = "name") -> list[str]:
    return sorted(item[key] for item in items)


def full_asset(fragment: dict[str, Any]) -> dict[str, Any]:
    """The fields the archive adds around the extracted fragment (A.5 of the reference)."""
    from dandischema.consts import DANDI_SCHEMA_VERSION

    asset_id = uuid.uuid4()
    return {
        **fragment,
        "schemaKey": "Asset", "schemaVersion": DANDI_SCHEMA_VERSION,
        "id": f"dandiasset:{asset_id}", "identifier": str(asset_id),
        "path": "sub-mouse01/sub-mouse01_ses-1_ecephys+ophys.nwb", "contentSize": 12345,
        "encodingFormat": "application/x-nwb",
        "digest": {"dandi:dandi-etag": "0" * 32 + "-1", "dandi:sha2-256": "0" * 64},
        "access": [{"schemaKey": "AccessRequirements", "status": "dandi:OpenAccess"}],
        "contentUrl": ["https://api.example.org/api/assets/x/download/"],
    }  # fmt: skip


@pytest.fixture(scope="module")
def ecephys_ophys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("nwb") / "both.nwb"
    return write_nwb(path, subject_id="mouse01", ecephys=True, ophys=True)


def test_the_fragment_is_a_valid_asset(ecephys_ophys: Path, settings: Settings) -> None:
    from dandischema.models import Asset

    fragment = asset_metadata(extract_path(ecephys_ophys))
    asset = Asset.model_validate(full_asset(fragment))

    (participant,) = asset.wasAttributedTo or []
    assert participant.identifier == "mouse01"
    assert participant.species is not None
    assert participant.species.name is not None
    assert participant.species.name.startswith("Mus musculus")
    assert participant.sex is not None
    assert participant.sex.name == "Female"
    assert participant.age is not None
    assert participant.age.value == "P90D"
    assert participant.strain is not None
    assert participant.strain.name == "C57BL/6J"
    session, generation = asset.wasGeneratedBy or []
    assert (session.schemaKey, session.name, session.startDate) == (
        "Session",
        "ses1",
        SESSION_START,
    )
    assert generation.name == "Metadata generation"
    software = (generation.wasAssociatedWith or [])[0]
    assert software.name == "Dandelion ingest"
    assert software.identifier is None
    assert [str(r.identifier) for r in asset.relatedResource or []] == [DOI_URL]


def test_ecephys_and_ophys_modalities(ecephys_ophys: Path) -> None:
    fragment = asset_metadata(extract_path(ecephys_ophys))

    assert names(fragment["approach"]) == [ECEPHYS, OPHYS]
    assert names(fragment["measurementTechnique"]) == [
        "analytical technique",
        "multi electrode extracellular electrophysiology recording technique",
        "signal filtering technique",
        "spike sorting technique",
        "surgical technique",
        "two-photon microscopy technique",
    ]
    assert names(fragment["variableMeasured"], "value") == [
        "ElectricalSeries", "ElectrodeGroup", "ImagingPlane", "LFP", "OpticalChannel",
        "PlaneSegmentation", "ProcessingModule", "TwoPhotonSeries", "Units",
    ]  # fmt: skip


def test_same_modalities_and_participant_as_dandi_cli(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dandi-cli (a dev dependency, used here as the reference) on the same file."""
    monkeypatch.setenv("DANDI_CACHE", "ignore")
    monkeypatch.setenv("DANDI_NO_ET", "1")
    from dandi.metadata.nwb import nwb2asset
    from dandi.misctypes import Digest

    path = write_nwb(tmp_path / "x.nwb", subject_id="m1", ophys=True, behavior=True, sex="male")
    theirs = nwb2asset(path, digest=Digest.dandi_etag("0" * 32 + "-1")).model_dump(
        mode="json", exclude_none=True
    )
    ours = asset_metadata(extract_path(path))

    for key in ("approach", "measurementTechnique"):
        assert names(ours[key]) == names(theirs[key])
    assert names(ours["variableMeasured"], "value") == names(theirs["variableMeasured"], "value")
    assert ours["wasAttributedTo"] == theirs["wasAttributedTo"]
    assert ours["relatedResource"] == theirs["relatedResource"]
    assert ours["keywords"] == theirs["keywords"]
    session = {k: v for k, v in theirs["wasGeneratedBy"][0].items() if k not in ("startDate",)}
    assert session.pop("endDate")[:19] == ours["wasGeneratedBy"][0]["endDate"][:19]
    assert session.items() <= ours["wasGeneratedBy"][0].items()


# -- extension types ------------------------------------------------------------------------


def write_extension_file(tmp_path: Path) -> Path:
    """A file with ProbeSeries (an extension of ElectricalSeries) and Widget (of
    NWBDataInterface, which no table row covers), its namespace cached in the file."""
    builder = NWBNamespaceBuilder(
        doc="Test types", name="ndx-dandelion-test", version="0.1.0",
        author="Dandelion", contact="dev@example.org",
    )  # fmt: skip
    for name, parent in (("ProbeSeries", "ElectricalSeries"), ("Widget", "NWBDataInterface")):
        builder.include_type(parent, namespace="core")
        spec = NWBGroupSpec(neurodata_type_def=name, neurodata_type_inc=parent, doc=f"A {name}.")
        builder.add_spec("ndx-dandelion-test.extensions.yaml", spec)
    builder.export("ndx-dandelion-test.namespace.yaml", outdir=str(tmp_path))
    type_map = get_type_map(copy=True)  # never the process-wide map
    type_map.load_namespaces(str(tmp_path / "ndx-dandelion-test.namespace.yaml"))
    probe_series = type_map.get_dt_container_cls("ProbeSeries", "ndx-dandelion-test")
    widget = type_map.get_dt_container_cls("Widget", "ndx-dandelion-test")

    nwbfile = NWBFile(
        session_description="Extension types.", identifier="ext", session_start_time=SESSION_START
    )
    device = nwbfile.create_device(name="probe", description="A probe.")
    group = nwbfile.create_electrode_group("shank", "A shank.", "CA3", device)
    nwbfile.add_electrode(group=group, location="CA3")
    region = nwbfile.create_electrode_table_region([0], "The electrode.")
    nwbfile.add_acquisition(
        probe_series(
            name="probe_signal", description="Signal.", data=np.zeros((10, 1), dtype=np.int16),
            electrodes=region, rate=20_000.0,
        )
    )  # fmt: skip
    nwbfile.add_acquisition(widget(name="widget"))
    path = tmp_path / "ext.nwb"
    with NWBHDF5IO(str(path), "w", manager=BuildManager(type_map)) as io:
        io.write(nwbfile)
    return path


def test_extension_types_map_through_their_parents(tmp_path: Path) -> None:
    extraction = extract_path(write_extension_file(tmp_path))
    fragment = asset_metadata(extraction)

    assert {"ProbeSeries", "Widget"} <= set(extraction.neurodata_types)
    assert extraction.neurodata_type_namespaces["ProbeSeries"] == "ndx-dandelion-test"
    assert extraction.neurodata_type_ancestors["ProbeSeries"][:2] == [
        "ElectricalSeries", "TimeSeries"
    ]  # fmt: skip
    assert extraction.sampling_rates == [20_000.0]
    assert extraction.brain_locations == ["CA3"]
    assert names(fragment["approach"]) == [ECEPHYS]
    assert names(fragment["measurementTechnique"]) == [
        "multi electrode extracellular electrophysiology recording technique",
        "surgical technique",
    ]
    # ProbeSeries counts as the ElectricalSeries it is; Widget adds nothing.
    assert names(fragment["variableMeasured"], "value") == ["ElectricalSeries", "ElectrodeGroup"]


# -- mapping rules on constructed extractions -----------------------------------------------


def fragment_of(**fields: Any) -> dict[str, Any]:
    return asset_metadata(Extraction(nwb_version="2.8.0", **fields))


def test_only_doi_org_urls_become_related_resources() -> None:
    pubs = [
        DOI_URL,
        "doi:10.1000/182",
        "PMID:12345",
        "https://dx.doi.org/10.1/x",
        "https://doi.org",
    ]

    fragment = fragment_of(related_publications=pubs)

    assert fragment["relatedResource"] == [
        {"schemaKey": "Resource", "identifier": url, "relation": "dcite:IsDescribedBy"}
        for url in (DOI_URL, "https://doi.org")
    ]


def test_participant_values_dandi_cli_cannot_read_are_left_out() -> None:
    subject = SubjectFacts(subject_id="s1", species="Unicornus", sex="male-ish", age="old")

    (participant,) = fragment_of(subject=subject)["wasAttributedTo"]

    assert participant == {
        "schemaKey": "Participant", "identifier": "s1",
        "species": {"schemaKey": "SpeciesType", "name": "Unicornus"},
    }  # fmt: skip


def test_an_unknown_taxon_keeps_its_uri_without_a_name() -> None:
    uri = "http://purl.obolibrary.org/obo/NCBITaxon_9999999"

    (participant,) = fragment_of(subject=SubjectFacts(subject_id="s", species=uri))[
        "wasAttributedTo"
    ]

    assert participant["species"] == {"schemaKey": "SpeciesType", "identifier": uri}


def test_a_cell_line_is_not_a_strain() -> None:
    subject = SubjectFacts(subject_id="s", strain="cellline: HEK293")

    (participant,) = fragment_of(subject=subject)["wasAttributedTo"]

    assert participant["cellLine"] == "HEK293"
    assert "strain" not in participant


def test_no_participant_without_a_subject_id() -> None:
    fragment = fragment_of(subject=SubjectFacts(species="Mus musculus"))

    assert "wasAttributedTo" not in fragment


def test_a_session_without_an_id_is_an_acquisition_session() -> None:
    (session, _) = fragment_of(session_start_time=SESSION_START, duration_seconds=60.0)[
        "wasGeneratedBy"
    ]

    assert session == {
        "schemaKey": "Session", "name": "Acquisition session",
        "startDate": "2024-01-02T03:04:05+00:00", "endDate": "2024-01-02T03:05:05+00:00",
    }  # fmt: skip
