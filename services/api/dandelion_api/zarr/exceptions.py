"""Zarr errors DANDI renders in shapes of their own."""

from __future__ import annotations

from typing import Any

from dandelion_common.errors import BadRequest

INGEST_ERROR = "Zarr archive is currently ingesting or has already ingested"
PUBLISHED_ERROR = "A published Zarr archive cannot be changed."


class ValidationListError(BadRequest):
    """DRF's `ValidationError("...")` from a view: a JSON list holding the message. The dandi
    client looks for the text "Zarr already exists" in it."""

    def body(self) -> Any:
        return [self.message]


class ZarrExists(ValidationListError):
    def __init__(self) -> None:
        super().__init__("Zarr already exists")


class FileMissing(ValidationListError):
    def __init__(self, key: str) -> None:
        super().__init__(f"File {key} does not exist.")
