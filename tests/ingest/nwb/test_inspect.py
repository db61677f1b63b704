"""inspect_file / inspect_url: pynwb validation plus nwbinspector's DANDI configuration, in
dandi-cli's result shape; unreadable files give one ERROR finding instead of raising."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import h5py
import pynwb
import pytest
from nwbfiles import write_nwb

from dandelion_common.storage import S3Storage
from dandelion_ingest.nwb.inspect import Inspection, inspect_file, inspect_url

KEYS = {"id", "severity", "message", "location", "validator", "validator_version"}


def inspect_path(path: Path, max_seconds: float | None = None) -> Inspection:
    with path.open("rb") as f:
        return inspect_file(f, max_seconds=max_seconds)


def errors(findings: Inspection) -> dict[str, str]:
    return {f["id"]: f["location"] for f in findings if f["severity"] == "ERROR"}


def test_a_clean_file_has_no_errors(tmp_path: Path) -> None:
    findings = inspect_path(write_nwb(tmp_path / "x.nwb", subject_id="mouse01", ophys=True))

    assert errors(findings) == {}
    assert all(set(f) == KEYS for f in findings)


@pytest.mark.parametrize(
    ("subject", "check"),
    [
        ({"sex": "male-ish"}, "NWBI.check_subject_sex"),
        ({"age": "90 days"}, "NWBI.check_subject_age"),
        ({"species": "mouse"}, "NWBI.check_subject_species_form"),
        ({"subject_id": "a/b"}, "NWBI.check_subject_id_no_slashes"),
    ],
)
def test_dandi_critical_checks_are_errors(
    tmp_path: Path, subject: dict[str, str], check: str
) -> None:
    values = {"subject_id": "mouse01", "species": "Mus musculus", "sex": "F", "age": "P90D"}
    values |= subject
    path = write_nwb(
        tmp_path / "x.nwb",
        subject_id=values["subject_id"],
        species=values["species"],
        sex=values["sex"],
        age=values["age"],
    )

    findings = inspect_path(path)

    assert errors(findings) == {check: "/general/subject"}
    (finding,) = (f for f in findings if f["id"] == check)
    assert finding["validator"] == "nwbinspector"
    assert finding["validator_version"] == "0.7.2"
    assert finding["message"]


def test_best_practice_violations_are_warnings(tmp_path: Path) -> None:
    path = write_nwb(tmp_path / "x.nwb", subject_id="mouse01")
    with h5py.File(path, "r+") as f:  # drop the Units' spike-time resolution
        del f["units/spike_times"].attrs["resolution"]

    findings = inspect_path(path)

    assert [(f["id"], f["severity"]) for f in findings] == [
        ("NWBI.check_units_resolution_is_set", "WARNING")
    ]


def test_schema_violations_are_pynwb_errors(tmp_path: Path) -> None:
    path = write_nwb(tmp_path / "x.nwb", subject_id="mouse01")
    with h5py.File(path, "r+") as f:  # a required attribute, not needed to read the file
        del f["acquisition/ElectricalSeries/data"].attrs["unit"]

    findings = [f for f in inspect_path(path) if f["validator"] == "pynwb"]

    assert [(f["id"], f["severity"]) for f in findings] == [("pynwb.MissingError", "ERROR")]
    assert "ElectricalSeries/data" in findings[0]["location"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not hdf5 at all" * 100, "not an HDF5 file"),
        (None, "HDF5 file without an NWB root (no nwb_version attribute)"),
    ],
)
def test_unreadable_files_give_one_error(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "x.nwb"
    if content is None:
        with h5py.File(path, "w") as f:
            f["x"] = [1]
    else:
        path.write_bytes(content)

    assert inspect_path(path) == [
        {
            "id": "pynwb.GENERIC", "severity": "ERROR", "message": message, "location": "",
            "validator": "pynwb", "validator_version": pynwb.__version__,
        }
    ]  # fmt: skip


def test_a_file_pynwb_cannot_read_gives_one_error(tmp_path: Path) -> None:
    path = write_nwb(tmp_path / "x.nwb", subject_id="mouse01")
    with h5py.File(path, "r+") as f:
        f["general/subject"].attrs["neurodata_type"] = "NoSuchType"

    (finding,) = inspect_path(path)

    assert finding["severity"] == "ERROR"
    assert finding["message"].startswith("pynwb cannot read the file (")
    assert "Traceback" not in finding["message"]


def test_a_time_limit_stops_the_checks(tmp_path: Path) -> None:
    path = write_nwb(tmp_path / "x.nwb", subject_id="a/b", sex="?", age="old")

    findings = inspect_path(path, max_seconds=0.0)

    assert findings[-1]["id"] == "NWBI.time_limit"
    assert findings[-1]["severity"] == "HINT"
    assert len(errors(findings)) < 3  # the checks after the first were skipped


async def test_inspect_over_http(tmp_path: Path, storage: S3Storage) -> None:
    path = write_nwb(tmp_path / "x.nwb", subject_id="mouse01", sex="male-ish")
    key = f"tests/nwb/{uuid.uuid4()}"
    await storage.put(key, path.read_bytes())
    try:
        url = await storage.presign_internal_get(key, expires=600)
        findings = await asyncio.to_thread(inspect_url, url, path.stat().st_size)
    finally:
        await storage.delete(key)

    assert errors(findings) == {"NWBI.check_subject_sex": "/general/subject"}
