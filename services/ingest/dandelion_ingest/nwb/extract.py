"""NWB metadata read from a file or a presigned S3 URL without reading the recorded data.

What is read: HDF5 attributes and shapes, pynwb's object tree (lazy datasets), the electrodes
table's `location` column, and the first/last element of time vectors. The bytes read follow
the number of objects in the file, not its size; `bytes_read` and `requests` prove it.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any

import h5py
import numpy as np
from pydantic import BaseModel, ConfigDict
from pynwb import NWBHDF5IO, NWBFile

from dandelion_ingest.nwb.errors import ExtractionError, NotNwbError
from dandelion_ingest.nwb.scan import Scan, scan
from dandelion_ingest.nwb.source import (
    CountingFile,
    ReadStats,
    nwb_version,
    open_hdf5,
    remote_error,
    remote_file,
    short_error,
)
from dandelion_ingest.nwb.species import match_species
from dandelion_ingest.nwb.subject import Age, age_from_birth, match_age, match_sex

__all__ = ["EXTRACTOR_VERSION", "Extraction", "NotNwbError", "extract_file", "extract_url"]

# Bump when what is extracted (or how) changes: stored extractions of another version are
# re-done (dandi-archive#1970: metadata from an old extractor otherwise stays frozen).
EXTRACTOR_VERSION = "dandelion-nwb-1"
MAX_WARNINGS = 20


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class DeviceFacts(Frozen):
    name: str
    description: str | None = None
    manufacturer: str | None = None


class SubjectFacts(Frozen):
    """The Subject's values as written in the file (normalised ones live on Extraction)."""

    subject_id: str | None = None
    species: str | None = None
    sex: str | None = None
    age: str | None = None
    date_of_birth: datetime | None = None
    genotype: str | None = None
    strain: str | None = None


class Extraction(Frozen):
    extractor_version: str = EXTRACTOR_VERSION
    nwb_version: str
    # NWBFile
    identifier: str | None = None
    session_id: str | None = None
    session_description: str | None = None
    session_start_time: datetime | None = None
    experiment_description: str | None = None
    institution: str | None = None
    lab: str | None = None
    experimenters: list[str] = []
    keywords: list[str] = []
    related_publications: list[str] = []
    subject: SubjectFacts | None = None
    devices: list[DeviceFacts] = []
    # Normalised for search: species as a Latin binomial, sex as M/F/U/O, age as ISO + days.
    subject_id: str | None = None
    species: str | None = None
    species_uri: str | None = None
    sex: str | None = None
    age: str | None = None
    age_reference: str | None = None
    age_days: float | None = None
    # Contents (None: the file has no such table)
    electrode_count: int | None = None
    electrode_locations: list[str] = []
    imaging_plane_locations: list[str] = []
    brain_locations: list[str] = []
    unit_count: int | None = None
    neurodata_types: list[str] = []
    neurodata_type_counts: dict[str, int] = {}
    neurodata_type_namespaces: dict[str, str] = {}
    neurodata_type_ancestors: dict[str, list[str]] = {}  # nearest parent first
    sampling_rates: list[float] = []
    duration_seconds: float | None = None
    # Cost and provenance
    warnings: list[str] = []
    bytes_read: int = 0
    bytes_fetched: int = 0
    requests: int = 0
    started: datetime | None = None
    seconds: float = 0.0


def extract_url(url: str, size: int) -> Extraction:
    """Extract from a presigned GET URL (HTTP Range) of an object of `size` bytes."""
    stats = ReadStats()
    return _extract(remote_file(url, size, stats))


def extract_file(fileobj: IO[bytes]) -> Extraction:
    """Extract from any seekable binary file object."""
    return _extract(CountingFile(fileobj, ReadStats()))


def _extract(source: CountingFile) -> Extraction:
    started, clock = datetime.now(UTC), time.perf_counter()
    # pynwb and hdmf warn about benign things (cached namespaces, deprecated fields); they are
    # kept as facts instead of leaking into the worker's log or failing strict test runs.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_hdf5(source) as h5file:
            facts = _guarded_read(h5file, source)
    stats = source.stats
    return Extraction(
        **facts,
        warnings=_warning_texts(str(w.message) for w in caught),
        bytes_read=stats.bytes_read,
        bytes_fetched=stats.bytes_fetched,
        requests=stats.requests,
        started=started,
        seconds=time.perf_counter() - clock,
    )


def _guarded_read(h5file: h5py.File, source: CountingFile) -> dict[str, Any]:
    try:
        return _read(h5file)
    except ExtractionError:
        raise
    except Exception as exc:  # pynwb/hdmf raise anything on malformed files
        if source.error is not None:
            raise remote_error(source.error) from exc
        raise NotNwbError(f"NWB file that pynwb cannot read ({short_error(exc)})") from exc


def _read(h5file: h5py.File) -> dict[str, Any]:
    version = nwb_version(h5file)
    scanned = scan(h5file)
    with NWBHDF5IO(file=h5file, load_namespaces=True) as io:
        nwbfile = io.read()
        facts = {
            "nwb_version": version,
            **_file_facts(nwbfile),
            **_subject_facts(nwbfile),
            **_content_facts(nwbfile),
            **_type_facts(scanned, io.manager.namespace_catalog),
        }
    facts["sampling_rates"] = sorted(scanned.rates)
    facts["duration_seconds"] = scanned.duration_seconds
    return facts


def _file_facts(nwbfile: NWBFile) -> dict[str, Any]:
    return {
        "identifier": _str(nwbfile.identifier),
        "session_id": _str(nwbfile.session_id),
        "session_description": _str(nwbfile.session_description),
        "session_start_time": nwbfile.session_start_time,
        "experiment_description": _str(nwbfile.experiment_description),
        "institution": _str(nwbfile.institution),
        "lab": _str(nwbfile.lab),
        "experimenters": _strs(nwbfile.experimenter),
        "keywords": _strs(nwbfile.keywords),
        "related_publications": _strs(nwbfile.related_publications),
        "devices": [_device(device) for device in nwbfile.devices.values()],
    }


def _device(device: Any) -> DeviceFacts:
    # NWB 2.9 moved the manufacturer to a linked DeviceModel; older files have it on Device.
    model = getattr(device, "model", None)
    manufacturer = getattr(device, "manufacturer", None) or getattr(model, "manufacturer", None)
    return DeviceFacts(
        name=device.name, description=_str(device.description), manufacturer=_str(manufacturer)
    )


def _subject_facts(nwbfile: NWBFile) -> dict[str, Any]:
    subject = nwbfile.subject
    if subject is None:
        return {}
    raw = SubjectFacts(
        subject_id=_str(subject.subject_id),
        species=_str(subject.species),
        sex=_str(subject.sex),
        age=_str(subject.age),
        date_of_birth=subject.date_of_birth,
        genotype=_str(subject.genotype),
        strain=_str(subject.strain),
    )
    species, sex = match_species(raw.species), match_sex(raw.sex)
    age = subject_age(raw, nwbfile.session_start_time)
    return {
        "subject": raw,
        "subject_id": raw.subject_id,
        "species": species.latin if species else None,
        "species_uri": species.uri if species else None,
        "sex": sex.code if sex else None,
        "age": age.iso if age else None,
        "age_reference": age.reference if age else None,
        "age_days": age.days if age else None,
    }


def subject_age(subject: SubjectFacts, session_start: datetime | None) -> Age | None:
    """The age DANDI records: exact from date of birth when both dates exist, else parsed."""
    if subject.date_of_birth is not None and session_start is not None:
        return age_from_birth(subject.date_of_birth, session_start)
    return match_age(subject.age)


def _content_facts(nwbfile: NWBFile) -> dict[str, Any]:
    electrodes, units = nwbfile.electrodes, nwbfile.units
    locations = _electrode_locations(electrodes)
    planes = sorted({p.location for p in nwbfile.imaging_planes.values() if p.location})
    return {
        "electrode_count": len(electrodes) if electrodes is not None else None,
        "electrode_locations": locations,
        "imaging_plane_locations": planes,
        "brain_locations": sorted({*locations, *planes}),
        "unit_count": len(units) if units is not None else None,  # ids' shape, no spike reads
    }


def _electrode_locations(electrodes: Any) -> list[str]:
    if electrodes is None or "location" not in electrodes.colnames:
        return []
    values = electrodes["location"].data[:]  # this one column, not the whole table
    return sorted({text for value in values if (text := _str(value))})


def _type_facts(scanned: Scan, catalog: Any) -> dict[str, Any]:
    counts: dict[str, int] = {}
    namespaces: dict[str, str] = {}
    ancestors: dict[str, list[str]] = {}
    for (namespace, name), count in sorted(scanned.types.items()):
        counts[name] = counts.get(name, 0) + count
        namespaces[name] = namespace
        if parents := _ancestors(catalog, namespace, name):
            ancestors[name] = parents
    return {
        "neurodata_types": sorted(counts),
        "neurodata_type_counts": counts,
        "neurodata_type_namespaces": namespaces,
        "neurodata_type_ancestors": ancestors,
    }


def _ancestors(catalog: Any, namespace: str, name: str) -> list[str]:
    """Parent types from the file's own specs (extensions included), nearest first."""
    try:
        hierarchy = catalog.get_hierarchy(namespace, name)
    except (KeyError, ValueError):  # a type whose namespace the file does not carry
        return []
    return [str(parent) for parent in hierarchy[1:]]


def _str(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _strs(values: Iterable[object] | str | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str | bytes):
        values = [values]
    return [text for value in values if (text := _str(value))]


def _warning_texts(messages: Iterable[str]) -> list[str]:
    unique = dict.fromkeys(message.strip().splitlines()[0][:200] for message in messages if message)
    return list(unique)[:MAX_WARNINGS]
