"""pynwb validation and nwbinspector (DANDI's configuration), as `dandi validate` runs them,
with results in dandi-cli's ValidationResult shape. Advisory: never raises on a bad file.

dandi-cli's rules: inspector checks at BEST_PRACTICE_VIOLATION and above only; importance
ERROR, PYNWB_VALIDATION and CRITICAL are severity ERROR, violations WARNING, suggestions HINT;
ids are "pynwb.<error>" and "NWBI.<check>". Unlike `inspect_nwbfile`, the file is opened and
read once, and validated once (nwbinspector's own validation is not run).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable
from typing import IO, Any, Literal, TypeAlias, TypedDict

import h5py
import nwbinspector  # type: ignore[import-untyped]  # ships no type information
import pynwb
from nwbinspector import (
    Importance,
    InspectorMessage,
    inspect_nwbfile_object,
    load_config,
)
from pynwb import NWBHDF5IO

from dandelion_ingest.nwb.errors import ExtractionError
from dandelion_ingest.nwb.source import (
    CountingFile,
    ReadStats,
    nwb_version,
    open_hdf5,
    remote_file,
    short_error,
)

Severity: TypeAlias = Literal["ERROR", "WARNING", "HINT"]


class Finding(TypedDict):
    id: str
    severity: Severity
    message: str
    location: str
    validator: Literal["pynwb", "nwbinspector"]
    validator_version: str


Inspection: TypeAlias = list[Finding]

SEVERITY: dict[Importance, Severity] = {
    Importance.ERROR: "ERROR",
    Importance.PYNWB_VALIDATION: "ERROR",
    Importance.CRITICAL: "ERROR",
    Importance.BEST_PRACTICE_VIOLATION: "WARNING",
    Importance.BEST_PRACTICE_SUGGESTION: "HINT",
}


def inspect_url(url: str, size: int, max_seconds: float | None = None) -> Inspection:
    """Validate and inspect a presigned GET URL of an object of `size` bytes."""
    return _inspect(remote_file(url, size, ReadStats()), max_seconds)


def inspect_file(fileobj: IO[bytes], max_seconds: float | None = None) -> Inspection:
    """Validate and inspect any seekable binary file object."""
    return _inspect(CountingFile(fileobj, ReadStats()), max_seconds)


def _inspect(source: CountingFile, max_seconds: float | None) -> Inspection:
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    # Checks and pynwb warn freely; findings are the report, warnings are noise here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with open_hdf5(source) as h5file:
                return _inspect_open(h5file, deadline)
        except ExtractionError as exc:
            return [_unreadable(exc.message)]


def _inspect_open(h5file: h5py.File, deadline: float | None) -> Inspection:
    nwb_version(h5file)
    try:
        with NWBHDF5IO(file=h5file, load_namespaces=True) as io:
            nwbfile = io.read()
            return [*_validation(io), *_inspection(nwbfile, deadline)]
    except Exception as exc:  # noqa: BLE001  # pynwb/hdmf raise anything on malformed files
        return [_unreadable(f"pynwb cannot read the file ({short_error(exc)})")]


def _validation(io: NWBHDF5IO) -> Inspection:
    try:
        errors = pynwb.validate(io=io)
    except Exception as exc:  # noqa: BLE001  # as dandi-cli: a validator crash is one error
        return [_unreadable(f"validation failed ({short_error(exc)})")]
    return [_pynwb_finding(error) for error in errors]


def _pynwb_finding(error: Any) -> Finding:
    return {
        "id": f"pynwb.{type(error).__name__}",
        "severity": "ERROR",
        "message": f"Failed to validate. {error.reason}",
        "location": str(error.location or ""),
        "validator": "pynwb",
        "validator_version": pynwb.__version__,
    }


def _inspection(nwbfile: pynwb.NWBFile, deadline: float | None) -> Inspection:
    messages = inspect_nwbfile_object(
        nwbfile,
        config=load_config("dandi"),
        importance_threshold=Importance.BEST_PRACTICE_VIOLATION,
    )
    return [_inspector_finding(message) for message in _until(messages, deadline)]


def _until(
    messages: Iterable[InspectorMessage | None], deadline: float | None
) -> Iterable[InspectorMessage]:
    # Checks run lazily, one per message pulled: stopping early skips the remaining checks
    # (some read data, which over HTTP can take minutes on a large file).
    for message in messages:
        if message is not None:
            yield message
        if deadline is not None and time.monotonic() > deadline:
            yield _stopped()
            return


def _stopped() -> InspectorMessage:
    return InspectorMessage(
        message="Inspection stopped at its time limit; later checks did not run.",
        importance=Importance.BEST_PRACTICE_SUGGESTION,
        check_function_name="time_limit",
    )


def _inspector_finding(message: InspectorMessage) -> Finding:
    return {
        "id": f"NWBI.{message.check_function_name}",
        "severity": SEVERITY[message.importance],
        "message": message.message,
        "location": str(message.location or ""),
        "validator": "nwbinspector",
        "validator_version": nwbinspector.__version__,
    }


def _unreadable(message: str) -> Finding:
    return {
        "id": "pynwb.GENERIC",
        "severity": "ERROR",
        "message": message,
        "location": "",
        "validator": "pynwb",
        "validator_version": pynwb.__version__,
    }
