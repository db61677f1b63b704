"""Errors of NWB reading: short messages meant for people, never a traceback."""

from __future__ import annotations


class ExtractionError(Exception):
    """Reading an NWB file failed; `message` says why in a few words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotNwbError(ExtractionError):
    """The bytes are not a readable NWB file (not HDF5, truncated, or HDF5 without NWB)."""


class RemoteReadError(ExtractionError):
    """The object store did not answer a ranged GET (expired URL, missing object, outage)."""
