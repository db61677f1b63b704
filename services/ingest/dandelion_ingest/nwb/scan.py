"""One pass over the HDF5 tree for what pynwb's objects make costly to get: every group's
neurodata type, TimeSeries rates and time spans. It reads attributes, dataset shapes and at
most the first and last element of a time vector, so its cost follows the object count,
never the size of the data."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import h5py
import numpy as np

# A compressed chunk must be read whole; time vectors chunked bigger than this are skipped
# (their series then adds nothing to the duration) so one read cannot cost megabytes.
MAX_CHUNK_READ = 256 * 1024
MAX_DEPTH = 64  # NWB trees are a few levels deep; this only stops hard-link cycles
MAX_PLAUSIBLE_SECONDS = 5 * 365 * 24 * 3600.0  # dandi-cli's cut-off for a broken clock


@dataclass
class Scan:
    types: Counter[tuple[str, str]] = field(default_factory=Counter)  # (namespace, type)
    rates: set[float] = field(default_factory=set)
    spans: list[tuple[float, float]] = field(default_factory=list)  # (start, end) seconds

    @property
    def duration_seconds(self) -> float | None:
        if not self.spans:
            return None
        duration = max(end for _, end in self.spans) - min(start for start, _ in self.spans)
        return duration if 0 <= duration < MAX_PLAUSIBLE_SECONDS else None


def scan(h5file: h5py.File) -> Scan:
    result = Scan()
    _walk(h5file, result, depth=0)
    return result


def _walk(group: h5py.Group, result: Scan, depth: int) -> None:
    # Neither h5py's visititems nor get(getclass=True): both ask HDF5 for full object info,
    # which for a chunked dataset walks its whole chunk index (megabytes for a large
    # recording). Opening an object reads only its header. Only hard links are followed, so
    # external files are never opened.
    if depth > MAX_DEPTH:
        return
    for name in group:
        if isinstance(group.get(name, getlink=True), h5py.HardLink):
            child = group[name]
            if isinstance(child, h5py.Group):
                _visit_group(child, result)
                _walk(child, result, depth + 1)


def _visit_group(group: h5py.Group, result: Scan) -> None:
    kind = _text(group.attrs.get("neurodata_type"))
    if kind is None:
        return
    result.types[(_text(group.attrs.get("namespace")) or "", kind)] += 1
    if (rated := _rated_span(group)) is not None:
        rate, span = rated
        result.rates.add(rate)
        if span is not None:
            result.spans.append(span)
    elif (span := _timestamped_span(group)) is not None:
        result.spans.append(span)


def _rated_span(group: h5py.Group) -> tuple[float, tuple[float, float] | None] | None:
    """(rate, span) of a TimeSeries stored with starting_time + rate: shape only, no data."""
    start_ds = _dataset(group, "starting_time")
    if start_ds is None:
        return None
    rate = _number(start_ds.attrs.get("rate"))
    if rate is None or rate <= 0:
        return None
    data = _dataset(group, "data")
    start = _number(start_ds[()])
    if data is None or not data.shape or start is None:
        return rate, None
    return rate, (start, start + data.shape[0] / rate)


def _timestamped_span(group: h5py.Group) -> tuple[float, float] | None:
    """First and last timestamp of a series, or first start and last stop of a time table."""
    timestamps = _dataset(group, "timestamps")
    if timestamps is not None:
        return _ends(timestamps, timestamps)
    starts, stops = _dataset(group, "start_time"), _dataset(group, "stop_time")
    if starts is not None and stops is not None:
        return _ends(starts, stops)
    return None


def _ends(first_of: h5py.Dataset, last_of: h5py.Dataset) -> tuple[float, float] | None:
    if not (_cheap_vector(first_of) and _cheap_vector(last_of)):
        return None
    start, end = _number(first_of[0]), _number(last_of[-1])
    return (start, end) if start is not None and end is not None else None


def _cheap_vector(dataset: h5py.Dataset) -> bool:
    if len(dataset.shape) != 1 or dataset.shape[0] == 0 or dataset.dtype.kind not in "fiu":
        return False
    filters: int = dataset.id.get_create_plist().get_nfilters()
    if dataset.chunks is None or filters == 0:
        return True  # contiguous or unfiltered: HDF5 reads just the element
    chunk_bytes: int = math.prod(dataset.chunks) * dataset.dtype.itemsize
    return chunk_bytes <= MAX_CHUNK_READ


def _dataset(group: h5py.Group, name: str) -> h5py.Dataset | None:
    link = group.get(name, getlink=True)
    if isinstance(link, h5py.ExternalLink) or link is None:
        return None
    obj = group.get(name)
    return obj if isinstance(obj, h5py.Dataset) else None


def _number(value: object) -> float | None:
    try:
        number = float(np.asarray(value).item())
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None
